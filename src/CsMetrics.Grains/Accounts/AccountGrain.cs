using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CsMetrics.Grains.Accounts;

/// <summary>
/// One account: applies its events through <see cref="AccountEngine"/> in memory, checkpoints its
/// state write-behind (when the event log's truncation asks, which it does for every account it fed
/// each <c>TruncateInterval</c>; after many unsaved events; on deactivation), is re-scored as time
/// passes by its silo's <see cref="ReevaluationSchedule"/> so silence decays the score, and hands band
/// crossings to its alert shard. No grain timer: at 100,000 accounts the timers cost about 450 bytes
/// per account each and 5-7 % of the node's CPU in timer-queue scans.
/// Durability of acknowledged events comes from the event log that the ingest path writes first;
/// the checkpoint only bounds how much of that log a restart must replay.
/// </summary>
public sealed partial class AccountGrain(
    [PersistentState("account", StorageNames.Default)] IPersistentState<AccountGrainState> persisted,
    ScoringModel model,
    TimeProvider time,
    IOptions<AccountGrainOptions> options,
    ReevaluationSchedule schedule,
    ILogger<AccountGrain> logger) : Grain, IAccountGrain
{
    private readonly Guid _incarnation = Guid.NewGuid();
    private AccountState _state = new();
    private int _unsaved;
    private bool _dirty;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _state = AccountStateSerializer.Deserialize(persisted.State.Snapshot);
        if (_state.Account.Length == 0)
        {
            _state.Account = this.GetPrimaryKeyString();
        }
        schedule.Add(_state.Account);
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        schedule.Remove(_state.Account);
        if (_dirty)
        {
            try
            {
                await CheckpointAsync();
            }
            catch (Exception e)
            {
                // The events stay in the event log; the ingest path sees the new incarnation and delivers them again.
                LogCheckpointFailed(logger, _state.Account, e);
            }
        }
    }

    public async Task<AccountIngestResult> IngestAsync(EventBatch batch)
    {
        var result = AccountEngine.Apply(_state, batch.Events, model, time.GetUtcNow());
        await AfterChangeAsync(result, result.Applied + result.Late);
        if (_unsaved >= options.Value.MaxUnsavedEvents)
        {
            await CheckpointAsync();
        }
        var move = result.Change is { } c ? new ScoreMove(c.From, c.To, c.ToBand is { } b ? Bands.Name(b) : null) : null;
        return new AccountIngestResult(_state.Account, result.Applied, result.Duplicates, result.Late, move, _incarnation);
    }

    public async Task<AccountView?> GetAsync()
    {
        if (_state.IsEmpty)
        {
            // Nothing was ever applied here: do not keep an activation around for a typo'd id.
            DeactivateOnIdle();
            return null;
        }
        var now = time.GetUtcNow();
        await AfterChangeAsync(AccountEngine.Reevaluate(_state, model, now), 0);
        return AccountViews.ToView(_state, HealthScorer.Score(_state, model, now, explain: true), model, persisted.State.OpenAlerts);
    }

    public async Task<Guid> FlushAsync()
    {
        if (_dirty)
        {
            await CheckpointAsync();
        }
        return _incarnation;
    }

    public async Task ReevaluateAsync()
    {
        if (!_state.IsEmpty)
        {
            await AfterChangeAsync(AccountEngine.Reevaluate(_state, model, time.GetUtcNow()), 0);
        }
    }

    private async Task AfterChangeAsync(ApplyResult result, int events)
    {
        if (result.Crossing is { } crossing)
        {
            await RaiseAlertAsync(crossing);
        }
        if (events > 0 || result.Change is not null || result.Crossing is not null)
        {
            _dirty = true;
            _unsaved += events;
        }
    }

    private async Task CheckpointAsync()
    {
        persisted.State.Snapshot = AccountStateSerializer.Serialize(_state);
        try
        {
            await persisted.WriteStateAsync();
        }
        finally
        {
            persisted.State.Snapshot = [];
        }
        _dirty = false;
        _unsaved = 0;
    }

    private async Task RaiseAlertAsync(BandCrossing crossing)
    {
        var type = AlertRules.TypeOf(crossing);
        if (type is null)
        {
            return;
        }
        var open = persisted.State.OpenAlerts;
        if (type.Value.Type == AlertTypes.Recovered)
        {
            // Recovery closes the alerts about the band the account left.
            open.RemoveAll(a => a.Type is AlertTypes.EnteredRed or AlertTypes.EnteredYellow
                && (crossing.To == Band.Green || a.Type == AlertTypes.EnteredRed));
        }
        var change = crossing.Change;
        var draft = new AlertDraft(
            _state.Account, type.Value.Type, type.Value.Severity, change.At,
            change.From, change.To,
            change.FromBand is { } fb ? Bands.Name(fb) : null, Bands.Name(crossing.To),
            change.Cause, new Dictionary<string, double>(change.Drivers));
        var alert = await AlertShards.GrainFor(GrainFactory, _state.Account).RaiseAsync(draft);
        if (alert.Type != AlertTypes.Recovered)
        {
            // One open alert per account and type: a new one replaces the old.
            open.RemoveAll(a => a.Type == alert.Type);
            open.Add(alert);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not checkpoint account {Account}; it stays in memory and the event log, and will try again")]
    private static partial void LogCheckpointFailed(ILogger logger, string account, Exception exception);
}
