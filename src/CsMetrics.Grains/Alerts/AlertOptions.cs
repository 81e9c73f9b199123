namespace CsMetrics.Grains.Alerts;

/// <summary>How alerts are kept and how often the alert clock runs (section <c>CsMetrics:Alerts</c>).</summary>
public sealed class AlertOptions
{
    public const string Section = "CsMetrics:Alerts";

    /// <summary>
    /// How often each node runs the alert clock: escalations, snoozes that end, sources that went
    /// quiet, and the sweep that finds accounts gone silent while inactive.
    /// </summary>
    public TimeSpan ClockInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The least time between two saves of one shard of the silence schedule (each save writes the
    /// whole shard); reports that arrive meanwhile go out together in the next. A truncation round
    /// checkpoints every account fed, and each new account reports its silence due time with its
    /// checkpoint: saved as often as storage allowed, the shards took a fifth of a node's busy time
    /// during the round, and at 250 ms apart still an eighth. A checkpoint does not wait for the
    /// save; a round waits for one save of every shard before it deletes the log, so this adds up
    /// to one interval to a round.
    /// </summary>
    public TimeSpan SilenceSaveInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a resolved alert stays listed before it is forgotten.</summary>
    public TimeSpan RetainResolved { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// The inbox snapshots every current alert after this many changes, or as many changes as there
    /// are alerts if that is more (and hourly, and when it deactivates).
    /// </summary>
    public int SnapshotEvery { get; set; } = 20_000;

    /// <summary>How many of the newest alert changes stay stored for streams and webhooks to resume from.</summary>
    public long RetainChanges { get; set; } = 1_000_000;
}
