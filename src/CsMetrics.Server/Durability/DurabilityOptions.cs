namespace CsMetrics.Server.Durability;

/// <summary>The write-ahead event log (section <c>CsMetrics:Durability</c>); used with the AzureTable provider.</summary>
public sealed class DurabilityOptions
{
    public const string Section = "CsMetrics:Durability";

    /// <summary>Table that holds the event logs of every node.</summary>
    public string LogTableName { get; set; } = "csmetricslog";

    /// <summary>
    /// How often a node asks the accounts it fed to checkpoint, then deletes the log entries
    /// they now cover. Bounds the log, and so the replay after a crash.
    /// </summary>
    public TimeSpan TruncateInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Log entries replayed together at start-up (their events grouped by account).</summary>
    public int ReplayWindowEntries { get; set; } = 200;

    /// <summary>Concurrent grain calls while replaying or truncating.</summary>
    public int Parallelism { get; set; } = 64;
}
