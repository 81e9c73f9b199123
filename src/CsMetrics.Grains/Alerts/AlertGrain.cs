using System.Globalization;
using CsMetrics.Contracts.Alerts;
using Microsoft.Extensions.Logging;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// One alert shard: numbers and keeps the recent alerts of the accounts hashed to it. The list is
/// saved write-behind (every 5 s while it changes, and on deactivation): rewriting the whole list
/// for every alert made the shard the bottleneck of ingest when many accounts moved at once, and
/// once a second it still cost 8 % of a durable node's CPU under heavy ingest. Accounts checkpoint
/// less often than that, and a replay after a crash raises the crossings it re-applies again.
/// </summary>
public sealed partial class AlertGrain(
    [PersistentState("alerts", StorageNames.Default)] IPersistentState<AlertShardState> state,
    ILogger<AlertGrain> logger) : Grain, IAlertGrain
{
    public const int MaxRecent = 1000;
    private static readonly TimeSpan SaveInterval = TimeSpan.FromSeconds(5);

    private bool _dirty;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(SaveIfDirtyAsync, new GrainTimerCreationOptions(SaveInterval, SaveInterval) { Interleave = false, KeepAlive = false });
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) =>
        SaveIfDirtyAsync(cancellationToken);

    public Task<Alert> RaiseAsync(AlertDraft draft)
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
        _dirty = true;
        return Task.FromResult(alert);
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

    private async Task SaveIfDirtyAsync(CancellationToken cancellationToken)
    {
        if (!_dirty)
        {
            return;
        }
        try
        {
            _dirty = false;
            await state.WriteStateAsync(cancellationToken);
        }
        catch (Exception e)
        {
            _dirty = true;
            LogSaveFailed(logger, this.GetPrimaryKeyLong(), e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not save alert shard {Shard}; will try again")]
    private static partial void LogSaveFailed(ILogger logger, long shard, Exception exception);
}
