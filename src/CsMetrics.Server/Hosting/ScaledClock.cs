namespace CsMetrics.Server.Hosting;

/// <summary>
/// The clock of a node that runs time faster (<c>CsMetrics:Clock:SpeedUp</c>, for the demo and
/// simulations): the time of day (what scores, windows and alerts see) moves <c>speedUp</c> times
/// faster from the moment the node started; timestamps and timers keep real time, so timeouts,
/// retries and Orleans' own timing are untouched.
/// </summary>
public sealed class ScaledClock(TimeProvider real, double speedUp) : TimeProvider
{
    private readonly DateTimeOffset _origin = real.GetUtcNow();
    private readonly long _started = real.GetTimestamp();

    public double SpeedUp => speedUp;

    public override DateTimeOffset GetUtcNow() => _origin + real.GetElapsedTime(_started) * speedUp;

    public override long GetTimestamp() => real.GetTimestamp();

    public override long TimestampFrequency => real.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => real.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        real.CreateTimer(callback, state, dueTime, period);
}

/// <summary>Section <c>CsMetrics:Clock</c>.</summary>
public sealed class ClockOptions
{
    public const string Section = "CsMetrics:Clock";

    /// <summary>
    /// How many times faster than real time this node's clock runs (1, the default, is real time).
    /// For demos and simulations only: a day passes in 86,400 / SpeedUp seconds, so a month of a
    /// simulated population plays in minutes. Never set it on a node that scores real customers.
    /// </summary>
    public double SpeedUp { get; set; } = 1;
}
