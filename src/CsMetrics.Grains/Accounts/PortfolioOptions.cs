namespace CsMetrics.Grains.Accounts;

/// <summary>The portfolio index (section <c>CsMetrics:Portfolio</c>).</summary>
public sealed class PortfolioOptions
{
    public const string Section = "CsMetrics:Portfolio";

    /// <summary>
    /// The least time between two rounds of the silo's portfolio outbox (default 250 ms): how stale
    /// the at-risk list and the portfolio may be, beyond one shard write; each round costs one
    /// storage write per shard with changes, whatever the event rate. Zero sends as soon as the last round is done.
    /// </summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromMilliseconds(250);
}
