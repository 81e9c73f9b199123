namespace CsMetrics.Grains.Accounts;

/// <summary>
/// How account grains checkpoint their state (section <c>CsMetrics:Accounts</c>). The regular
/// checkpoint comes from the event log: every <c>CsMetrics:Durability:TruncateInterval</c> the node
/// asks each account it fed to save, then deletes the log entries they cover.
/// </summary>
public sealed class AccountGrainOptions
{
    public const string Section = "CsMetrics:Accounts";

    /// <summary>An account writes its checkpoint early once this many events are unsaved.</summary>
    public int MaxUnsavedEvents { get; set; } = 2000;
}
