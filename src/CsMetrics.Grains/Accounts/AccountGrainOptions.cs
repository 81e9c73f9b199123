namespace CsMetrics.Grains.Accounts;

/// <summary>How account grains checkpoint their state (section <c>CsMetrics:Accounts</c>).</summary>
public sealed class AccountGrainOptions
{
    public const string Section = "CsMetrics:Accounts";

    /// <summary>
    /// An account with unsaved changes writes its checkpoint this often. Events are durable in
    /// the event log before they are acknowledged, so this bounds replay work, not data loss;
    /// short intervals multiply storage writes by the number of active accounts.
    /// </summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>An account writes its checkpoint early once this many events are unsaved.</summary>
    public int MaxUnsavedEvents { get; set; } = 2000;
}
