namespace CsMetrics.Contracts.Accounts;

/// <summary>
/// One Segment user (key: <c>userId</c>, or <c>anon:</c> + <c>anonymousId</c>): which account a
/// <c>group</c> call tied it to, and the events that arrived before that, kept until it is known.
/// </summary>
[Alias("csm.ISegmentUserGrain")]
public interface ISegmentUserGrain : IGrainWithStringKey
{
    [Alias("AccountAsync"), Orleans.Concurrency.ReadOnly]
    Task<string?> AccountAsync();

    /// <summary>
    /// Keeps envelopes (JSON, account not yet set) until the account is known. Returns the account
    /// instead, holding nothing, when it is already known (a group call got there first); throws
    /// <see cref="InvalidOperationException"/> when the user's held events would pass their size limit.
    /// </summary>
    [Alias("HoldAsync")]
    Task<string?> HoldAsync(string[] envelopes);

    /// <summary>Ties the user to an account; returns the held envelopes (now to be ingested) and forgets them only on <see cref="ReleasedAsync"/>.</summary>
    [Alias("SetAccountAsync")]
    Task<string[]> SetAccountAsync(string account);

    /// <summary>These held envelopes (as returned by <see cref="SetAccountAsync"/>) are in: forget them.</summary>
    [Alias("ReleasedAsync")]
    Task ReleasedAsync(string[] envelopes);
}
