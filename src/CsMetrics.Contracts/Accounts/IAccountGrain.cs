using CsMetrics.Scoring.Events;

namespace CsMetrics.Contracts.Accounts;

/// <summary>
/// One customer account, keyed by its account id. Holds the account's bounded rolling state,
/// scores it on every batch and as time passes, and raises an alert on a band crossing.
/// </summary>
[Alias("csm.IAccountGrain")]
public interface IAccountGrain : IGrainWithStringKey
{
    /// <summary>
    /// Applies a batch of this account's events (one call per account per HTTP request):
    /// duplicates by event id are ignored, the rest applied in event-time order, then the
    /// account is re-scored.
    /// </summary>
    [Alias("IngestAsync")]
    Task<AccountIngestResult> IngestAsync(EventBatch batch);

    /// <summary>
    /// The live score and its explanation, re-evaluated at the current time; null for an account with
    /// no events. Interleaves: the view is taken in one turn, and while the account's open alerts are
    /// fetched from the alert inbox the account keeps taking events (a busy inbox must not hold ingest).
    /// </summary>
    [Alias("GetAsync"), Orleans.Concurrency.AlwaysInterleave]
    Task<AccountView?> GetAsync();

    /// <summary>The account's score history; null if it has no events.</summary>
    [Alias("HistoryAsync"), Orleans.Concurrency.ReadOnly]
    Task<HistoryView?> HistoryAsync();

    /// <summary>Re-scores the account at the current time with no new event (the silo's re-evaluation schedule calls it), so silence lowers the score.</summary>
    [Alias("ReevaluateAsync")]
    Task ReevaluateAsync();

    /// <summary>
    /// The silence sweep's call: re-scores the account now (raising "gone silent" if it is) and
    /// returns when it is next due for the sweep (null: not until human usage resumes).
    /// </summary>
    [Alias("CheckSilenceAsync")]
    Task<DateTimeOffset?> CheckSilenceAsync();

    /// <summary>
    /// Writes the account's checkpoint if it has unsaved changes, and returns the activation's
    /// incarnation: a caller that delivered events to another incarnation must deliver them again
    /// (they may have been lost with it) before it may forget them. Interleaves: while the write
    /// waits on storage, the account keeps taking events and answering reads.
    /// </summary>
    [Alias("FlushAsync"), Orleans.Concurrency.AlwaysInterleave]
    Task<Guid> FlushAsync();
}

/// <summary>Events for one account.</summary>
[GenerateSerializer, Immutable, Alias("csm.EventBatch")]
public sealed record EventBatch([property: Id(0)] HealthEvent[] Events);

/// <summary>What one account did with a batch.</summary>
[GenerateSerializer, Immutable, Alias("csm.AccountIngestResult")]
public sealed record AccountIngestResult(
    [property: Id(0)] string Account,
    [property: Id(1)] int Applied,
    [property: Id(2)] int Duplicates,
    [property: Id(3)] int Late,
    [property: Id(4)] ScoreMove? Change,
    [property: Id(5)] Guid Incarnation);

/// <summary>A score change: old score, new score, band after.</summary>
[GenerateSerializer, Immutable, Alias("csm.ScoreMove")]
public sealed record ScoreMove(
    [property: Id(0)] double? From,
    [property: Id(1)] double? To,
    [property: Id(2)] string? Band);
