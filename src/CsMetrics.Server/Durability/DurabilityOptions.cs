namespace CsMetrics.Server.Durability;

/// <summary>The write-ahead event log (section <c>CsMetrics:Durability</c>); used with the AzureTable provider.</summary>
public sealed class DurabilityOptions
{
    public const string Section = "CsMetrics:Durability";

    /// <summary>
    /// Where the event logs are kept: <c>blob</c> (append blobs in <see cref="LogContainerName"/>, the
    /// default) or <c>table</c> (one entity per batch in <see cref="LogTableName"/>, for a store with
    /// tables and no blobs, such as Azure Cosmos DB for Table). On Azurite, appending as blobs took
    /// about 40 % less of its CPU and never paused for its database saves (README, "Measured figures").
    /// </summary>
    public string LogStore { get; set; } = LogStores.Blob;

    /// <summary>Blob container that holds the event logs of every node (<see cref="LogStore"/> <c>blob</c>).</summary>
    public string LogContainerName { get; set; } = "csmetricslog";

    /// <summary>Table that holds the event logs of every node (<see cref="LogStore"/> <c>table</c>).</summary>
    public string LogTableName { get; set; } = "csmetricslog";

    /// <summary>
    /// How often a node asks the accounts it fed to checkpoint, then deletes the log entries
    /// they now cover. Bounds the log, and so the replay after a crash.
    /// </summary>
    public TimeSpan TruncateInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often a node records in storage that it is alive (and looks for logs of dead nodes).</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A log whose node has given no heartbeat for this long is adopted by a running node: replayed
    /// into its accounts, then deleted. Keep it well above the heartbeat interval and clock skew.
    /// </summary>
    public TimeSpan OrphanAfter { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Log entries replayed together at start-up: their events are grouped by account, one call per
    /// account. The window closes at this many entries or <see cref="ReplayWindowEvents"/> events,
    /// whichever comes first.
    /// </summary>
    public int ReplayWindowEntries { get; set; } = 10_000;

    /// <summary>
    /// Events replayed together at start-up, decoded and held in memory at once (a few hundred bytes
    /// each). The cost of replay is per account call, so a wider window is faster when the log holds
    /// many events per account: a log of 4,000,000 events over 100,000 accounts replayed in 41.1 s
    /// in windows of 100,000 events, 23.9 s in windows of 500,000 and 25.7 s in windows of 1,000,000
    /// (benchmark, --phases recovery --recovery-events 40).
    /// </summary>
    public int ReplayWindowEvents { get; set; } = 500_000;

    /// <summary>Concurrent grain calls while replaying.</summary>
    public int Parallelism { get; set; } = 64;

    /// <summary>
    /// Accounts checkpointing at once in a truncation round (in storage-partition order, so the
    /// checkpoints in flight share a few partitions and go out as a few packed writes). More makes
    /// a round shorter and the node slower to answer meanwhile: after a recovery of 100,000 accounts
    /// the round took 77-79 s at 64 and 256 and 29-31 s at 1,000, but with 1,000 a durable node
    /// under load showed a score 548-763 ms after its event at p99 (p50 68 ms) where 64 and 256
    /// showed it after 81-97 ms (p50 under 3 ms).
    /// </summary>
    public int CheckpointParallelism { get; set; } = 256;

    /// <summary>
    /// On a graceful stop, how long the node may spend checkpointing the accounts it fed since the
    /// last truncation (so a restart has nothing to replay); what is left stays in the log and is
    /// replayed at the next start. 0 skips it. The host's shutdown time is this plus 30 s.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>The values of <see cref="DurabilityOptions.LogStore"/>.</summary>
public static class LogStores
{
    public const string Blob = "blob";
    public const string Table = "table";

    public static bool IsKnown(string? store) =>
        string.Equals(store, Blob, StringComparison.OrdinalIgnoreCase) || string.Equals(store, Table, StringComparison.OrdinalIgnoreCase);

    public static bool IsTable(string? store) => string.Equals(store, Table, StringComparison.OrdinalIgnoreCase);
}
