using CsMetrics.Contracts.Accounts;

namespace CsMetrics.Grains.Accounts;

/// <summary>
/// See <see cref="ISegmentUserGrain"/>. Held events are stored before the call returns (they were
/// acknowledged to the SDK), at most <see cref="MaxHeldChars"/> characters per user; they are forgotten only after
/// the caller confirms it ingested them, so a crash in between ingests them again (and event-id
/// de-duplication makes that harmless).
/// </summary>
public sealed class SegmentUserGrain(
    [PersistentState("segmentuser", StorageNames.Default)] IPersistentState<SegmentUserState> state) : Grain, ISegmentUserGrain
{
    /// <summary>At most this many characters of events wait per user (well inside one storage entity).</summary>
    public const int MaxHeldChars = 400_000;

    public Task<string?> AccountAsync() => Task.FromResult(state.State.Account);

    public async Task<string?> HoldAsync(string[] envelopes)
    {
        if (state.State.Account is { } account)
        {
            return account;
        }
        var held = state.State.Held;
        var size = held.Sum(e => e.Length) + envelopes.Sum(e => e.Length);
        if (size > MaxHeldChars)
        {
            throw new InvalidOperationException(
                $"held: user {this.GetPrimaryKeyString()} already has {held.Sum(e => e.Length)} characters of events waiting for an account (at most {MaxHeldChars}); send a group call naming the account");
        }
        held.AddRange(envelopes);
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            held.RemoveRange(held.Count - envelopes.Length, envelopes.Length); // not kept: the caller answers an error
            throw;
        }
        return null;
    }

    public async Task<string[]> SetAccountAsync(string account)
    {
        if (state.State.Account != account)
        {
            state.State.Account = account;
            await state.WriteStateAsync();
        }
        return [.. state.State.Held];
    }

    public async Task ReleasedAsync(string[] envelopes)
    {
        var done = envelopes.ToHashSet(StringComparer.Ordinal);
        if (state.State.Held.RemoveAll(done.Contains) > 0)
        {
            await state.WriteStateAsync();
        }
    }
}

[GenerateSerializer, Alias("csm.SegmentUserState")]
public sealed class SegmentUserState
{
    [Id(0)] public string? Account { get; set; }

    [Id(1)] public List<string> Held { get; set; } = [];
}
