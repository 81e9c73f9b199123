using Microsoft.Extensions.DependencyInjection;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Grains.Alerts;
using CsMetrics.Scoring.Alerting;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace CsMetrics.Grains.Accounts;

/// <summary>
/// One account: applies its events through <see cref="AccountEngine"/> in memory, checkpoints its
/// state write-behind (when the event log's truncation asks, which it does for every account it fed
/// each <c>TruncateInterval</c>; after many unsaved events; on deactivation), is re-scored as time
/// passes by its silo's <see cref="ReevaluationSchedule"/> so silence decays the score, runs the
/// <see cref="AlertMachine"/> after every change and hands its decisions to the silo's
/// <see cref="AlertOutbox"/> (never waiting for the inbox), and tells the silence schedule when it
/// would go silent, so a sweep finds it even when it is not active. No grain timer: at 100,000 accounts the timers cost about 450 bytes
/// per account each and 5-7 % of the node's CPU in timer-queue scans.
/// Durability of acknowledged events comes from the event log that the ingest path writes first;
/// the checkpoint only bounds how much of that log a restart must replay.
/// </summary>
public sealed partial class AccountGrain(AccountGrainServices services) : Grain, IAccountGrain
{
    /// <summary>The name the account's checkpoint is stored under (packed on Azure Table, see the server's storage set-up).</summary>
    public const string StateName = "account";
    private readonly Guid _incarnation = Guid.NewGuid();
    // The checkpoint's version in storage. The grain talks to its storage directly rather than through
    // IPersistentState: at 100,000 accounts that facet and the lifecycle and migration hooks it brings
    // cost about 500 bytes of heap per account (5,328 -> 4,814 B, benchmark --phases durable).
    private string? _etag;
    private bool _stored;
    private AccountState _state = new();
    private int _unsaved;
    // Changes worth a checkpoint bump _version; _savedVersion is the version the last written checkpoint holds.
    private long _version;
    private long _savedVersion;
    private Task? _writing;
    private DateTimeOffset _retryCheckpointAt;
    private int _portfolioHash;
    private int _portfolioKeyHash;
    private long _alertTicket;
    private long _portfolioTicket;
    // The band moves of the last entry reported: handed again while they are the same, which they are
    // for every entry that moves only the score (a new array of new moves per entry was the largest
    // group of objects surviving an ephemeral collection, a fifth of them, on a storage-off node under load).
    private BandMove[] _moves = [];

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var stored = new GrainState<AccountGrainState>(new AccountGrainState());
        await services.Storage.ReadStateAsync(StateName, this.GetGrainId(), stored);
        (_etag, _stored) = (stored.ETag, stored.RecordExists);
        _state = AccountStateSerializer.Deserialize(stored.State?.Snapshot ?? []);
        if (_state.Account.Length == 0)
        {
            _state.Account = this.GetPrimaryKeyString();
        }
        services.Schedule.Add(_state.Account);
        if (!_state.IsEmpty)
        {
            // An account checkpointed before the index existed (or before its views table was lost)
            // enters it on its first activation, even if nothing changes.
            ReportToPortfolio(services.Time.GetUtcNow());
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        services.Schedule.Remove(_state.Account);
        if (Dirty)
        {
            try
            {
                await CheckpointAsync();
            }
            catch (Exception e)
            {
                // The events stay in the event log; the ingest path sees the new incarnation and delivers them again.
                LogCheckpointFailed(services.Logger, _state.Account, e);
            }
        }
    }

    public Task<AccountIngestResult> IngestAsync(EventBatch batch)
    {
        var now = services.Time.GetUtcNow();
        RecordSources(batch.Events, now);
        var result = AccountEngine.Apply(_state, batch.Events, services.Model, now);
        AfterChange(result, result.Applied + result.Late, now);
        if (_unsaved >= services.Options.Value.MaxUnsavedEvents && _writing is null && now >= _retryCheckpointAt)
        {
            // Write-behind: the events are in the log already, so this answer does not wait for the write.
            _ = CheckpointInBackgroundAsync();
        }
        var move = result.Change is { } c ? new ScoreMove(c.From, c.To, c.ToBand is { } b ? Bands.Name(b) : null) : null;
        return Task.FromResult(new AccountIngestResult(_state.Account, result.Applied, result.Duplicates, result.Late, move, _incarnation));
    }

    public async Task<AccountView?> GetAsync()
    {
        if (_state.IsEmpty)
        {
            // Nothing was ever applied here: do not keep an activation around for a typo'd id.
            DeactivateOnIdle();
            return null;
        }
        // All of the account's state is read in this turn; the inbox is asked after, and events
        // that arrive while it answers are applied meanwhile (GetAsync interleaves) and show in the next read.
        var now = services.Time.GetUtcNow();
        AfterChange(AccountEngine.Reevaluate(_state, services.Model, now), 0, now);
        var view = AccountViews.ToView(_state, HealthScorer.Score(_state, services.Model, now, explain: true), services.Model, []);
        var alerts = await services.Inbox.QueryAsync(new AlertQuery(null, null, null, view.Account, null, 100));
        return view with { OpenAlerts = [.. alerts.Where(a => !a.IsClosed)] };
    }

    public Task<HistoryView?> HistoryAsync()
    {
        if (_state.IsEmpty)
        {
            DeactivateOnIdle();
            return Task.FromResult<HistoryView?>(null);
        }
        var h = _state.History;
        var daily = (h.Days ?? []).Select(d => new DailyPointView(
            DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + d.Day).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            Math.Round(d.Score, 1), Bands.Name(d.Band))).ToArray();
        var bands = (h.BandChanges ?? []).Select(b => new BandChangeView(b.At, b.FromScore, b.ToScore, b.From is { } f ? Bands.Name(f) : null, Bands.Name(b.To), b.Cause)).ToArray();
        return Task.FromResult<HistoryView?>(new HistoryView(_state.Account, daily, bands));
    }

    public async Task<Guid> FlushAsync()
    {
        await CheckpointAsync();
        return _incarnation;
    }

    public Task ReevaluateAsync()
    {
        if (!_state.IsEmpty)
        {
            var now = services.Time.GetUtcNow();
            AfterChange(AccountEngine.Reevaluate(_state, services.Model, now), 0, now);
        }
        return Task.CompletedTask;
    }

    public Task<DateTimeOffset?> CheckSilenceAsync()
    {
        if (_state.IsEmpty)
        {
            DeactivateOnIdle();
            return Task.FromResult<DateTimeOffset?>(null);
        }
        var now = services.Time.GetUtcNow();
        // The sweep records what this returns.
        AfterChange(AccountEngine.Reevaluate(_state, services.Model, now), 0, now);
        var track = _state.Alerts;
        DateTimeOffset? next = null;
        if (_state.Usage.LastHumanAt is { } last && !track.IsOpen(AlertKinds.GoneSilent))
        {
            var due = last + TimeSpan.FromDays(services.Model.Alerts.GoneSilent.Days);
            // Silent and still not alerted: its source is quiet. Look again once that may have changed.
            next = due > now ? due : now + TimeSpan.FromHours(services.Model.Alerts.GoneSilent.SourceQuietHours);
        }
        if (track.SilenceDueReported != next)
        {
            track.SilenceDueReported = next;
            _version++;
        }
        return Task.FromResult(next);
    }

    private void RecordSources(IReadOnlyList<HealthEvent> events, DateTimeOffset now)
    {
        string? previous = null;
        for (var i = 0; i < events.Count; i++)
        {
            var source = events[i].Source;
            if (i == 0 || !ReferenceEquals(source, previous) && source != previous)
            {
                services.Sources.Saw(events[i].SourceName, now);
                previous = source;
            }
        }
    }

    private void AfterChange(ApplyResult result, int events, DateTimeOffset now)
    {
        var source = _state.Usage.Source ?? HealthEvent.DefaultSource;
        var signals = AlertMachine.Evaluate(_state, result.Card, services.Model, now, new AlertContext(services.QuietSources.Contains(source)));
        for (var i = 0; i < signals.Count; i++)
        {
            _alertTicket = services.Outbox.Enqueue(ToNotice(signals[i]));
        }
        if (events > 0 || result.Change is not null || signals.Count > 0)
        {
            _version++;
            _unsaved += events;
        }
        ReportToPortfolio(now);
    }

    /// <summary>
    /// Hands the portfolio index this account's entry when what it shows changed: the score to one
    /// decimal, the band, name, segment, owner, MRR or band moves (two hashes of them are all this
    /// activation keeps). An entry that moves only the score says so, and the outbox may hold it for
    /// <see cref="PortfolioOptions.ScoreRefreshInterval"/> while later moves replace it.
    /// </summary>
    private void ReportToPortfolio(DateTimeOffset now)
    {
        var evaluation = _state.Evaluation;
        var profile = _state.Profile;
        double? score = evaluation.Score is { } s ? Math.Round(s, 1) : null;
        var changes = _state.History.BandChanges;
        var lastMove = changes is { Count: > 0 } ? changes[^1].At : default;
        // Everything the index shows but the score; a move of the score alone may wait in the outbox.
        var keyHash = HashCode.Combine(evaluation.Band, profile.Name?.Value, profile.Segment?.Value, profile.CsmOwner?.Value, _state.Billing.Mrr?.Value, lastMove);
        var hash = HashCode.Combine(keyHash, score);
        if (hash == _portfolioHash)
        {
            return;
        }
        var scoreOnly = keyHash == _portfolioKeyHash && _portfolioHash != 0;
        (_portfolioHash, _portfolioKeyHash) = (hash, keyHash);
        var moves = _moves = RecentMoves(changes, now - PortfolioEntry.MoveHorizon, _moves);
        _portfolioTicket = services.Portfolio.Enqueue(new PortfolioEntry(
            _state.Account, 0, profile.Name?.Value, profile.Segment?.Value, profile.CsmOwner?.Value,
            score, evaluation.Band is { } b ? Bands.Name(b) : null, _state.Billing.Mrr?.Value, now, moves), scoreOnly);
    }

    /// <summary>
    /// The band moves at or after <paramref name="since"/>, the last <see cref="PortfolioEntry.MaxMoves"/> of them, oldest first:
    /// <paramref name="previous"/> itself when it holds the same moves.
    /// </summary>
    internal static BandMove[] RecentMoves(List<BandChange>? changes, DateTimeOffset since, BandMove[] previous)
    {
        if (changes is null)
        {
            return [];
        }
        // The newest first, back to the cap; then put oldest first.
        Span<int> picked = stackalloc int[PortfolioEntry.MaxMoves];
        var count = 0;
        for (var i = changes.Count - 1; i >= 0 && count < picked.Length; i--)
        {
            if (changes[i].At >= since)
            {
                picked[count++] = i;
            }
        }
        if (count == 0)
        {
            return [];
        }
        if (SameMoves(changes, picked[..count], previous))
        {
            return previous;
        }
        var moves = new BandMove[count];
        for (var k = 0; k < count; k++)
        {
            var c = changes[picked[count - 1 - k]];
            moves[k] = new BandMove(c.At, c.From is { } f ? Bands.Name(f) : null, Bands.Name(c.To));
        }
        return moves;
    }

    /// <summary>Whether <paramref name="moves"/> holds the picked changes (newest first in <paramref name="picked"/>), oldest first.</summary>
    private static bool SameMoves(List<BandChange> changes, ReadOnlySpan<int> picked, BandMove[] moves)
    {
        if (moves.Length != picked.Length)
        {
            return false;
        }
        for (var k = 0; k < moves.Length; k++)
        {
            var c = changes[picked[picked.Length - 1 - k]];
            var m = moves[k];
            if (m.At != c.At || !string.Equals(m.To, Bands.Name(c.To), StringComparison.Ordinal)
                || !string.Equals(m.From, c.From is { } f ? Bands.Name(f) : null, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>
    /// Tells the silence schedule, with a checkpoint, when this account would go silent: the
    /// first time, and whenever that moved a day or more (an early entry only makes the sweep look
    /// too soon; usage only moves it later). Returns once the registry's shard holds it for its
    /// next save, not after that save: the shard saves at most every
    /// <see cref="Alerts.AlertOptions.SilenceSaveInterval"/>, and a checkpoint that waited for it
    /// held one of the truncation round's places in flight that long (a round of 100,000 accounts
    /// reporting for the first time took 79 s at 256 in flight). The round flushes every shard
    /// before it deletes the log (so a report lost with the process is made again by the log's
    /// replay), and the account records the report only once the shard saved it, after the
    /// checkpoint's snapshot was taken: so a checkpoint never claims a report the registry could
    /// have lost (the next one reports again, which the registry takes at once when nothing
    /// changed). Once per checkpoint at most, not per event: on the ingest path it made activating
    /// new accounts 2.5 times slower.
    /// </summary>
    private async Task ReportSilenceAsync()
    {
        var track = _state.Alerts;
        if (_state.Usage.LastHumanAt is not { } last || track.IsOpen(AlertKinds.GoneSilent))
        {
            return;
        }
        var due = last + TimeSpan.FromDays(services.Model.Alerts.GoneSilent.Days);
        if (track.SilenceDueReported is { } reported && due - reported < TimeSpan.FromDays(1))
        {
            return;
        }
        var shard = services.SilenceShard(_state.Account);
        await shard.QueueDueAsync(_state.Account, due);
        _ = RecordWhenSavedAsync(shard, due);
    }

    /// <summary>Records a report as made once its shard saved it (on this activation: a continuation of its own turn).</summary>
    private async Task RecordWhenSavedAsync(ISilenceRegistryGrain shard, DateTimeOffset due)
    {
        try
        {
            await shard.FlushAsync();
            _state.Alerts.SilenceDueReported = due;
        }
        catch (Exception e)
        {
            // Not recorded: the next checkpoint reports again, and the round's own flush keeps the log meanwhile.
            LogSilenceReportUnsaved(services.Logger, _state.Account, e);
        }
    }

    private bool Dirty => _version != _savedVersion;

    /// <summary>
    /// Returns once a checkpoint holding every change made before this call is in storage. One
    /// write at a time: a caller that finds one in flight waits for it, then writes again if that
    /// one began before its changes.
    /// </summary>
    private async Task CheckpointAsync()
    {
        var target = _version;
        while (_savedVersion < target)
        {
            if (_writing is { } inFlight)
            {
                await inFlight;
                continue;
            }
            _writing = WriteCheckpointAsync();
            try
            {
                await _writing;
            }
            finally
            {
                _writing = null;
            }
        }
    }

    private async Task CheckpointInBackgroundAsync()
    {
        try
        {
            await CheckpointAsync();
        }
        catch (Exception e)
        {
            // The events stay in the event log; truncation or deactivation asks again.
            _retryCheckpointAt = services.Time.GetUtcNow() + CheckpointRetryDelay;
            LogCheckpointFailed(services.Logger, _state.Account, e);
        }
    }

    private static readonly TimeSpan CheckpointRetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>
    /// One checkpoint write. The account keeps taking calls while it waits: the snapshot is taken
    /// in one turn, with the outbox tickets of the decisions it holds, and only this snapshot's
    /// version counts as saved when the write returns.
    /// </summary>
    private async Task WriteCheckpointAsync()
    {
        var version = _version;
        var unsaved = _unsaved;
        var alertTicket = _alertTicket;
        var portfolioTicket = _portfolioTicket;
        var snapshot = AccountStateSerializer.Serialize(_state);
        // Told while this checkpoint is written, not before it.
        var reporting = ReportSilenceAsync();
        // Never save an alert decision, or a state the portfolio shows, whose notice could still be lost with this process.
        // Only this account's own last notices: not whatever the rest of the silo queued since.
        await Task.WhenAll(services.Outbox.DeliveredAsync(alertTicket), services.Portfolio.DeliveredAsync(portfolioTicket));
        var written = new GrainState<AccountGrainState>(new AccountGrainState { Snapshot = snapshot }) { ETag = _etag, RecordExists = _stored };
        // A failed report fails the checkpoint (truncation keeps the log and asks again), but a write that went through keeps its ETag.
        await Task.WhenAll(WriteAsync(), reporting);
        _savedVersion = Math.Max(_savedVersion, version);
        _unsaved = Math.Max(0, _unsaved - unsaved);

        async Task WriteAsync()
        {
            await services.Storage.WriteStateAsync(StateName, this.GetGrainId(), written);
            (_etag, _stored) = (written.ETag, true);
        }
    }

    private AlertNotice ToNotice(AlertSignal s) => new(
        _state.Account,
        s.Action switch { AlertAction.Raise => AlertNotice.Raise, AlertAction.Update => AlertNotice.Update, _ => AlertNotice.Clear },
        s.Type, s.Severity, s.At, s.ScoreBefore, s.ScoreAfter,
        s.BandBefore is { } bb ? Bands.Name(bb) : null, s.BandAfter is { } ba ? Bands.Name(ba) : null,
        s.Cause, new Dictionary<string, double>(s.Drivers), [.. s.Playbook],
        _state.Profile.CsmOwner?.Value);

    [LoggerMessage(Level = LogLevel.Debug, Message = "The silence schedule did not save account {Account}'s due time; its next checkpoint reports it again")]
    private static partial void LogSilenceReportUnsaved(ILogger logger, string account, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not checkpoint account {Account}; it stays in memory and the event log, and will try again")]
    private static partial void LogCheckpointFailed(ILogger logger, string account, Exception exception);
}

/// <summary>
/// What every account grain uses, resolved once per silo: an activation holds this one reference
/// instead of ten (80 bytes an account, which is 80 MB at a million accounts).
/// </summary>
public sealed class AccountGrainServices(
    [FromKeyedServices(StorageNames.Default)] IGrainStorage storage,
    ScoringModel model,
    [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time,
    IOptions<AccountGrainOptions> options,
    ReevaluationSchedule schedule,
    AlertOutbox outbox,
    PortfolioOutbox portfolio,
    SourceActivity sources,
    QuietSources quietSources,
    IGrainFactory grains,
    ILogger<AccountGrain> logger)
{
    // References built once: GetGrain<T>(key) resolves the interface from its attributes on every
    // call, which with one silence report per checkpoint was 2-3 % of a node's CPU in a truncation round.
    private readonly ISilenceRegistryGrain[] _silenceShards = [.. Enumerable.Range(0, SilenceShards.Count).Select(shard => grains.GetGrain<ISilenceRegistryGrain>(shard))];

    public IGrainStorage Storage { get; } = storage;
    public ScoringModel Model { get; } = model;
    public TimeProvider Time { get; } = time;
    public IOptions<AccountGrainOptions> Options { get; } = options;
    public ReevaluationSchedule Schedule { get; } = schedule;
    public AlertOutbox Outbox { get; } = outbox;
    public PortfolioOutbox Portfolio { get; } = portfolio;
    public SourceActivity Sources { get; } = sources;
    public QuietSources QuietSources { get; } = quietSources;
    public ILogger<AccountGrain> Logger { get; } = logger;

    /// <summary>The alert inbox (one grain).</summary>
    public IAlertInboxGrain Inbox { get; } = grains.GetGrain<IAlertInboxGrain>(0);

    /// <summary>The silence schedule's shard that holds <paramref name="account"/>.</summary>
    public ISilenceRegistryGrain SilenceShard(string account) => _silenceShards[SilenceShards.For(account)];
}
