using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;
using Microsoft.Extensions.Logging;

namespace CsMetrics.Grains.Accounts;

/// <summary>
/// One account: applies its events through <see cref="AccountEngine"/>, persists the result,
/// re-scores on a timer so silence decays the score, and hands band crossings to its alert shard.
/// </summary>
public sealed partial class AccountGrain(
    [PersistentState("account", StorageNames.Default)] IPersistentState<AccountGrainState> persisted,
    ScoringModel model,
    TimeProvider time,
    ILogger<AccountGrain> logger) : Grain, IAccountGrain
{
    private AccountState _state = new();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _state = AccountStateSerializer.Deserialize(persisted.State.Snapshot);
        if (_state.Account.Length == 0)
        {
            _state.Account = this.GetPrimaryKeyString();
        }
        var period = TimeSpan.FromMinutes(model.Evaluation.ReevaluateMinutes);
        this.RegisterGrainTimer(ReevaluateAsync, new GrainTimerCreationOptions(period, period) { Interleave = false, KeepAlive = false });
        return Task.CompletedTask;
    }

    public async Task<AccountIngestResult> IngestAsync(EventBatch batch)
    {
        var result = AccountEngine.Apply(_state, batch.Events, model, time.GetUtcNow());
        await CommitAsync(result, persist: result.Applied > 0 || result.Late > 0 || result.Change is not null);
        var move = result.Change is { } c ? new ScoreMove(c.From, c.To, c.ToBand is { } b ? Bands.Name(b) : null) : null;
        return new AccountIngestResult(_state.Account, result.Applied, result.Duplicates, result.Late, move);
    }

    public async Task<AccountView?> GetAsync()
    {
        if (_state.IsEmpty)
        {
            // Nothing was ever applied here: do not keep an activation around for a typo'd id.
            DeactivateOnIdle();
            return null;
        }
        var result = AccountEngine.Reevaluate(_state, model, time.GetUtcNow());
        await CommitAsync(result, persist: result.Change is not null);
        return AccountViews.ToView(_state, result.Card, model, persisted.State.OpenAlerts);
    }

    private async Task ReevaluateAsync(CancellationToken cancellationToken)
    {
        if (_state.IsEmpty)
        {
            return;
        }
        var result = AccountEngine.Reevaluate(_state, model, time.GetUtcNow());
        await CommitAsync(result, persist: result.Change is not null);
    }

    private async Task CommitAsync(ApplyResult result, bool persist)
    {
        if (result.Crossing is { } crossing)
        {
            await RaiseAlertAsync(crossing);
        }
        if (!persist && result.Crossing is null)
        {
            return;
        }
        persisted.State.Snapshot = AccountStateSerializer.Serialize(_state);
        try
        {
            await persisted.WriteStateAsync();
        }
        catch (Exception e)
        {
            // The in-memory state is now ahead of storage: drop this activation so the next
            // call starts again from what was stored, and let the caller retry.
            LogPersistFailed(logger, _state.Account, e);
            DeactivateOnIdle();
            throw;
        }
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
        var alert = await GrainFactory.GetGrain<IAlertGrain>(AlertShards.For(_state.Account)).RaiseAsync(draft);
        if (alert.Type != AlertTypes.Recovered)
        {
            // One open alert per account and type: a new one replaces the old.
            open.RemoveAll(a => a.Type == alert.Type);
            open.Add(alert);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not persist account {Account}; the activation will be dropped and the caller must retry")]
    private static partial void LogPersistFailed(ILogger logger, string account, Exception exception);
}
