using System.Globalization;
using CsMetrics.Contracts.Alerts;

namespace CsMetrics.Grains.Alerts;

/// <summary>One alert shard: numbers and keeps the recent alerts of the accounts hashed to it.</summary>
public sealed class AlertGrain(
    [PersistentState("alerts", StorageNames.Default)] IPersistentState<AlertShardState> state) : Grain, IAlertGrain
{
    public const int MaxRecent = 1000;

    public async Task<Alert> RaiseAsync(AlertDraft draft)
    {
        var shard = this.GetPrimaryKeyLong();
        var sequence = state.State.Sequence + 1;
        var alert = new Alert(
            string.Create(CultureInfo.InvariantCulture, $"al-{shard:D2}-{sequence}"),
            sequence,
            draft.Account, draft.Type, draft.Severity, draft.At,
            draft.ScoreBefore, draft.ScoreAfter, draft.BandBefore, draft.BandAfter,
            draft.Cause, draft.Drivers, "open");
        state.State.Sequence = sequence;
        state.State.Recent.Add(alert);
        if (state.State.Recent.Count > MaxRecent)
        {
            state.State.Recent.RemoveRange(0, state.State.Recent.Count - MaxRecent);
        }
        await state.WriteStateAsync();
        return alert;
    }

    public Task<Alert[]> RecentAsync(int limit)
    {
        var recent = state.State.Recent;
        var count = Math.Clamp(limit, 0, recent.Count);
        var result = new Alert[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = recent[recent.Count - 1 - i];
        }
        return Task.FromResult(result);
    }
}
