namespace CsMetrics.Grains;

/// <summary>
/// The clock CsMetrics' own code reads (scores, windows, alerts, schedules), registered as a keyed
/// <see cref="TimeProvider"/> so a node can run it faster than Orleans' clock (the demo's
/// <c>CsMetrics:Clock:SpeedUp</c>): Orleans times membership and calls on the unkeyed one, which
/// must stay real. Unless a host registers its own, it is the unkeyed <see cref="TimeProvider"/>
/// (a test's fake clock included). Inject it with <c>[FromKeyedServices(Clock.Key)] TimeProvider</c>.
/// </summary>
public static class Clock
{
    public const string Key = "csmetrics";
}
