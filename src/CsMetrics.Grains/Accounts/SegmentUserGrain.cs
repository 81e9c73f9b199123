using CsMetrics.Contracts.Accounts;

namespace CsMetrics.Grains.Accounts;

/// <summary>
/// See <see cref="ISegmentUserGrain"/>. Held events are stored before the call returns (they were
/// acknowledged to the SDK), at most <see cref="MaxHeld"/> per user; they are forgotten only after
/// the caller confirms it ingested them, so a crash in between ingests them again (and event-id
/// de-duplication makes that harmless).
/// </summary>
public sealed class SegmentUserGrain(
    [PersistentState("segmentuser", StorageNames.Default)] IPersistentState<SegmentUserState> state) : Grain, ISegmentUserGrain
{
    public const int MaxHeld = 1000;

    public Task<string?> AccountAsync() => Task.FromResult(state.State.Account);

    public async Task<int> HoldAsync(string[] envelopes)
    {
        var held = state.State.Held;
        held.AddRange(envelopes);
        if (held.Count > MaxHeld)
        {
            held.RemoveRange(0, held.Count - MaxHeld); // the oldest go first; the response told the caller how many are held
        }
        await state.WriteStateAsync();
        return held.Count;
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

    public async Task ReleasedAsync(int count)
    {
        if (count > 0)
        {
            state.State.Held.RemoveRange(0, Math.Min(count, state.State.Held.Count));
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
