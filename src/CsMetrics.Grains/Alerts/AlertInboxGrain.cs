using Microsoft.Extensions.DependencyInjection;
using System.Globalization;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Scoring.Alerting;
using CsMetrics.Scoring.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// The alert inbox (see <see cref="IAlertInboxGrain"/>). Every change (raise, update, acknowledge,
/// assign, snooze, reopen, resolve, escalate) gets the next sequence number and is written to the
/// <see cref="IAlertStore"/> before anyone can see it (appended in one batch per commit, with a
/// snapshot of every current alert every <see cref="AlertOptions.SnapshotEvery"/> changes), so a client resuming a stream or a webhook
/// resuming its cursor after a restart finds exactly what it missed. Current alerts are kept in
/// memory with indexes by account+type (one open alert each) and by account; the newest changes
/// too, older ones are read back from the store.
/// </summary>
public sealed partial class AlertInboxGrain(
    IAlertStore store,
    ScoringModel model,
    [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time,
    IOptions<AlertOptions> options,
    ILogger<AlertInboxGrain> logger) : Grain, IAlertInboxGrain
{
    private const int RecentChanges = 20_000;

    private readonly Dictionary<string, Alert> _alerts = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Account, string Type), string> _unresolved = [];
    private readonly Dictionary<string, HashSet<string>> _byAccount = new(StringComparer.Ordinal);
    private readonly List<Alert> _recent = [];
    private long _sequence;
    private long _snapshotAt;
    private DateTimeOffset _lastPrune;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var (alerts, last) = await store.LoadAsync(cancellationToken);
        _sequence = last;
        _snapshotAt = last;
        foreach (var alert in alerts.OrderBy(a => a.Sequence))
        {
            Index(alert);
        }
        _recent.AddRange(await store.ReadChangesAsync(Math.Max(0, last - RecentChanges), RecentChanges, cancellationToken));
        _lastPrune = time.GetUtcNow();
        LogLoaded(logger, _alerts.Count, _unresolved.Count, _sequence);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_sequence > _snapshotAt)
        {
            await SnapshotAsync(cancellationToken);
        }
    }

    public async Task SubmitAsync(AlertNotice[] notices)
    {
        // Every change keeps its own sequence number (a raise then a clear in one batch are two
        // changes: streams and webhooks see both); the latest form of each alert and the open alert
        // per account and type are tracked across the batch.
        var changes = new List<Alert>();
        var latest = new Dictionary<string, Alert>(StringComparer.Ordinal);
        var openInBatch = new Dictionary<(string, string), string?>();
        var next = _sequence;
        void Add(Alert change)
        {
            changes.Add(change);
            latest[change.Id] = change;
            openInBatch[(change.Account, change.Type)] = change.IsClosed ? null : change.Id;
        }

        foreach (var n in notices)
        {
            var key = (n.Account, n.Type);
            var openId = openInBatch.TryGetValue(key, out var inBatch) ? inBatch : _unresolved.GetValueOrDefault(key);
            var open = openId is null ? null : latest.GetValueOrDefault(openId) ?? _alerts.GetValueOrDefault(openId);
            switch (n.Action)
            {
                case AlertNotice.Raise when open is null:
                    next++;
                    var id = string.Create(CultureInfo.InvariantCulture, $"al-{next}");
                    Add(new Alert(id, next, n.Account, n.Type, n.Severity, n.At, n.ScoreBefore, n.ScoreAfter, n.BandBefore, n.BandAfter,
                        n.Cause, n.Drivers, AlertStates.Open, n.Playbook, n.At, 1, n.Owner, null, null, null, null, null, null, Alert.Changes.Raised));
                    break;
                case AlertNotice.Raise or AlertNotice.Update when open is not null:
                    // One open alert per account and type: a new trigger updates it.
                    next++;
                    Add(open with
                    {
                        Sequence = next,
                        ScoreAfter = n.ScoreAfter,
                        BandAfter = n.BandAfter,
                        Cause = n.Cause,
                        Drivers = n.Drivers.Count > 0 ? n.Drivers : open.Drivers,
                        UpdatedAt = n.At,
                        Triggers = open.Triggers + 1,
                        Change = Alert.Changes.Updated,
                    });
                    break;
                case AlertNotice.Clear when open is not null:
                    next++;
                    Add(open with
                    {
                        Sequence = next,
                        State = AlertStates.Resolved,
                        ScoreAfter = n.ScoreAfter ?? open.ScoreAfter,
                        ResolvedAt = n.At,
                        UpdatedAt = n.At,
                        Resolution = $"cleared automatically: {n.Cause}",
                        Change = Alert.Changes.Resolved,
                    });
                    next = ResolveEscalations(open.Id, n.At, "the alert it escalated was cleared", next, Add, latest);
                    break;
            }
        }
        await CommitAsync(changes);
    }

    /// <summary>Closes the open escalations of <paramref name="originalId"/>; returns the last sequence number used.</summary>
    private long ResolveEscalations(string originalId, DateTimeOffset at, string why, long next, Action<Alert> add, Dictionary<string, Alert>? latest = null)
    {
        if (_alerts.GetValueOrDefault(originalId) is not { } original || !_byAccount.TryGetValue(original.Account, out var ids))
        {
            return next;
        }
        foreach (var id in ids.Order(StringComparer.Ordinal).ToList())
        {
            var alert = latest?.GetValueOrDefault(id) ?? _alerts[id];
            if (alert.EscalationOf == originalId && !alert.IsClosed)
            {
                add(alert with { Sequence = ++next, State = AlertStates.Resolved, ResolvedAt = at, UpdatedAt = at, Resolution = why, Change = Alert.Changes.Resolved });
            }
        }
        return next;
    }

    public Task<Alert[]> QueryAsync(AlertQuery query)
    {
        IEnumerable<Alert> candidates = query.Account is { } account
            ? (_byAccount.TryGetValue(account, out var ids) ? ids.Select(id => _alerts[id]) : [])
            : _alerts.Values;
        var result = candidates
            .Where(a => (query.Severity is null || a.Severity == query.Severity)
                && (query.Type is null || a.Type == query.Type)
                && (query.State is null || a.State == query.State)
                && (query.Owner is null || a.Owner == query.Owner))
            .OrderByDescending(a => a.At)
            .ThenByDescending(a => a.Sequence)
            .Take(query.Limit)
            .ToArray();
        return Task.FromResult(result);
    }

    public async Task<Alert[]> ReadAfterAsync(long after, int limit)
    {
        if (after >= _sequence)
        {
            return [];
        }
        if (_recent.Count > 0 && after >= _recent[0].Sequence - 1)
        {
            var start = _recent.BinarySearch(new Alert("", after + 1, "", "", "", default, null, null, null, null, "", [], "", [], default, 0, null, null, null, null, null, null, null, ""), BySequence.Instance);
            start = start < 0 ? ~start : start;
            return [.. _recent.Skip(start).Take(limit)];
        }
        return [.. await store.ReadChangesAsync(after, limit)];
    }

    public Task<long> LastSequenceAsync() => Task.FromResult(_sequence);

    public async Task<AlertTransitionResult> TransitionAsync(string id, AlertCommand command)
    {
        if (!_alerts.TryGetValue(id, out var alert))
        {
            return new AlertTransitionResult(null, null);
        }
        var now = time.GetUtcNow();
        Alert? changed;
        string? error = null;
        if (alert.IsClosed && command.Kind != AlertCommand.Resolve)
        {
            return new AlertTransitionResult(alert, $"state: alert {id} is resolved; a resolved alert cannot be {Verb(command.Kind)}");
        }
        switch (command.Kind)
        {
            case AlertCommand.Acknowledge:
                changed = alert.State == AlertStates.Acknowledged ? null
                    : alert with { State = AlertStates.Acknowledged, AcknowledgedAt = now, SnoozedUntil = null, Change = Alert.Changes.Acknowledged };
                break;
            case AlertCommand.Assign:
                changed = alert.Owner == command.Owner ? null : alert with { Owner = command.Owner, Change = Alert.Changes.Assigned };
                break;
            case AlertCommand.Snooze when command.Until is { } until && until > now:
                changed = alert with { State = AlertStates.Snoozed, SnoozedUntil = until, Change = Alert.Changes.Snoozed };
                break;
            case AlertCommand.Snooze:
                changed = null;
                error = $"until: expected a time after now ({now:O}), got {command.Until?.ToString("O", CultureInfo.InvariantCulture) ?? "nothing"}";
                break;
            case AlertCommand.Resolve:
                changed = alert.IsClosed ? null
                    : alert with { State = AlertStates.Resolved, ResolvedAt = now, Resolution = command.Note ?? "resolved by a user", SnoozedUntil = null, Change = Alert.Changes.Resolved };
                break;
            default:
                return new AlertTransitionResult(alert, $"command: expected ack, assign, snooze or resolve, got \"{command.Kind}\"");
        }
        if (changed is null)
        {
            return new AlertTransitionResult(alert, error); // nothing to change: idempotent
        }
        changed = changed with { Sequence = _sequence + 1, UpdatedAt = now };
        List<Alert> changes = [changed];
        if (command.Kind is AlertCommand.Acknowledge or AlertCommand.Resolve)
        {
            // Someone took it on: its escalation has done its job.
            ResolveEscalations(id, now, $"the alert it escalated was {(command.Kind == AlertCommand.Resolve ? "resolved" : "acknowledged")}", changed.Sequence, changes.Add);
        }
        await CommitAsync(changes);
        return new AlertTransitionResult(changed, null);
    }

    public async Task TickAsync()
    {
        var now = time.GetUtcNow();
        var escalateAfter = TimeSpan.FromMinutes(model.Alerts.Escalation.AfterMinutes);
        var changes = new List<Alert>();
        var next = _sequence;
        foreach (var alert in _alerts.Values.OrderBy(a => a.Sequence))
        {
            if (alert.State == AlertStates.Snoozed && alert.SnoozedUntil is { } until && until <= now)
            {
                // SnoozedUntil stays: a person looked at this alert, so it does not escalate.
                changes.Add(alert with { Sequence = ++next, State = AlertStates.Open, UpdatedAt = now, Change = Alert.Changes.Reopened });
            }
            else if (alert is { State: AlertStates.Open, Severity: AlertKinds.Critical, EscalatedAt: null, AcknowledgedAt: null, SnoozedUntil: null }
                && alert.Type != AlertKinds.Escalated && now - alert.At >= escalateAfter)
            {
                changes.Add(alert with { Sequence = ++next, EscalatedAt = now, UpdatedAt = now, Change = Alert.Changes.Escalated });
                var id = string.Create(CultureInfo.InvariantCulture, $"al-{++next}");
                changes.Add(new Alert(id, next, alert.Account, AlertKinds.Escalated, AlertKinds.Critical, now, alert.ScoreBefore, alert.ScoreAfter,
                    alert.BandBefore, alert.BandAfter,
                    $"{alert.Type} alert {alert.Id} not acknowledged within {model.Alerts.Escalation.AfterMinutes} minutes", alert.Drivers,
                    AlertStates.Open, [.. model.Alerts.PlaybookFor(AlertKinds.Escalated)], now, 1, model.Alerts.Escalation.Target,
                    null, null, null, null, null, alert.Id, Alert.Changes.Raised));
            }
        }
        if (changes.Count > 0)
        {
            await CommitAsync(changes);
        }
        if (now - _lastPrune >= TimeSpan.FromHours(1))
        {
            await PruneAsync(now);
        }
        else if (_sequence - _snapshotAt >= Math.Max(options.Value.SnapshotEvery, _alerts.Count))
        {
            // On the clock, not on the path of submissions: a snapshot writes every alert. Taken
            // at least as many changes apart as there are alerts, it costs about one alert written
            // per change, however many alerts there are.
            await SnapshotAsync(CancellationToken.None);
        }
    }

    private async Task CommitAsync(IEnumerable<Alert> changes)
    {
        var ordered = changes.OrderBy(c => c.Sequence).ToList();
        if (ordered.Count == 0)
        {
            return;
        }
        // Durable first: nothing is visible (to queries, streams, webhooks) that a restart could forget.
        try
        {
            await store.AppendAsync(ordered);
        }
        catch
        {
            // The append may have reached storage after all: start over from what storage holds, so
            // sequence numbers are never handed out twice. The caller (the outbox) retries.
            DeactivateOnIdle();
            throw;
        }
        foreach (var change in ordered)
        {
            Index(change);
            _recent.Add(change);
        }
        _sequence = Math.Max(_sequence, ordered[^1].Sequence);
        if (_recent.Count > RecentChanges * 2)
        {
            _recent.RemoveRange(0, _recent.Count - RecentChanges);
        }
    }

    /// <summary>Every current alert as of now: a restart reads this and the changes after it.</summary>
    private async Task SnapshotAsync(CancellationToken cancellationToken, bool force = false)
    {
        var upTo = _sequence;
        if (upTo == _snapshotAt && !force)
        {
            return;
        }
        try
        {
            await store.SnapshotAsync(_alerts.Values, upTo, Math.Max(0, upTo - options.Value.RetainChanges), cancellationToken);
            _snapshotAt = upTo;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The log still holds every change: only the next restart reads more of it.
            LogSnapshotFailed(logger, upTo, e);
        }
    }

    private void Index(Alert alert)
    {
        _alerts[alert.Id] = alert;
        if (!_byAccount.TryGetValue(alert.Account, out var ids))
        {
            _byAccount[alert.Account] = ids = new HashSet<string>(StringComparer.Ordinal);
        }
        ids.Add(alert.Id);
        var key = (alert.Account, alert.Type);
        if (alert.IsClosed)
        {
            if (_unresolved.TryGetValue(key, out var current) && current == alert.Id)
            {
                _unresolved.Remove(key);
            }
        }
        else
        {
            _unresolved[key] = alert.Id;
        }
        _sequence = Math.Max(_sequence, alert.Sequence);
    }

    /// <summary>Forgets resolved alerts older than the retention, and changes no stream can still need.</summary>
    private async Task PruneAsync(DateTimeOffset now)
    {
        _lastPrune = now;
        var cutoff = now - options.Value.RetainResolved;
        var old = _alerts.Values.Where(a => a.IsClosed && a.UpdatedAt < cutoff).Select(a => a.Id).ToList();
        foreach (var id in old)
        {
            var alert = _alerts[id];
            _alerts.Remove(id);
            if (_byAccount.TryGetValue(alert.Account, out var ids) && ids.Remove(id) && ids.Count == 0)
            {
                _byAccount.Remove(alert.Account);
            }
        }
        // The next snapshot leaves them out, and drops changes past the retention.
        await SnapshotAsync(CancellationToken.None, force: old.Count > 0);
    }

    private static string Verb(string kind) => kind switch
    {
        AlertCommand.Acknowledge => "acknowledged",
        AlertCommand.Assign => "assigned",
        AlertCommand.Snooze => "snoozed",
        _ => "changed",
    };

    private sealed class BySequence : IComparer<Alert>
    {
        public static readonly BySequence Instance = new();

        public int Compare(Alert? x, Alert? y) => x!.Sequence.CompareTo(y!.Sequence);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Alert inbox loaded {Alerts} alerts ({Unresolved} unresolved), last change {Sequence}")]
    private static partial void LogLoaded(ILogger logger, int alerts, int unresolved, long sequence);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write the alert snapshot up to change {Sequence}; the log keeps every change, the next snapshot tries again")]
    private static partial void LogSnapshotFailed(ILogger logger, long sequence, Exception exception);
}
