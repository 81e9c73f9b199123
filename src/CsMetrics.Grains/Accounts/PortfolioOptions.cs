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

    /// <summary>
    /// How long an entry whose only change is the score (to one decimal) may wait in the outbox
    /// (default 5 s); a new band, a band move, a profile or MRR change, or an account's first entry
    /// goes out in the next round. Under load every event moves some account's score, and each entry
    /// sent is a shard write: an account that takes an event a second sends one entry in 5 s instead
    /// of 20. Zero (or anything up to <see cref="FlushInterval"/>) sends every change in the next round.
    /// </summary>
    public TimeSpan ScoreRefreshInterval { get; set; } = TimeSpan.FromSeconds(5);
}
