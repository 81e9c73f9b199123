namespace CsMetrics.Grains.Alerts;

/// <summary>How webhooks are delivered (section <c>CsMetrics:Webhooks</c>).</summary>
public sealed class WebhookOptions
{
    public const string Section = "CsMetrics:Webhooks";

    /// <summary>How often each endpoint's worker looks for new alerts and due retries.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Wait before the first retry; each further retry waits twice as long, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan BaseBackoff { get; set; } = TimeSpan.FromSeconds(5);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// A delivery that failed this many times in a row is parked (kept, listed, replayable). With the
    /// default backoff, 12 attempts span about an hour and three quarters of an endpoint being down.
    /// </summary>
    public int MaxAttempts { get; set; } = 12;

    /// <summary>How long one POST may take.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
