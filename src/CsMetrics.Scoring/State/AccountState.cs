namespace CsMetrics.Scoring.State;

/// <summary>
/// Everything CsMetrics keeps about one account: bounded aggregates, never raw event history.
/// Every collection here has a cap from the scoring model, so the size of an account's state
/// does not grow with its event volume. Applying the same events in any order gives the same
/// state (until a cap evicts something), which is what makes replay and late events safe.
/// </summary>
public sealed class AccountState
{
    /// <summary>
    /// The snapshot format this code writes. 2: event ids remembered as 128-bit hashes in the JSON
    /// (<see cref="DedupState.Entries"/>). 3: as 64-bit hashes and whole seconds, in a binary section
    /// after the JSON (<see cref="AccountStateSerializer"/>).
    /// </summary>
    public const int CurrentSchemaVersion = 3;

    public int SchemaVersion { get; set; } = CurrentSchemaVersion;
    public string Account { get; set; } = "";

    /// <summary>Events applied to this account; duplicates, late and rejected events excluded.</summary>
    public long EventCount { get; set; }
    /// <summary>Events accepted but older than the grace window, so not applied to the score.</summary>
    public long LateEventCount { get; set; }
    /// <summary>Applied events whose actor is a bot or a system (stored, never counted as usage).</summary>
    public long NonHumanEventCount { get; set; }
    public DateTimeOffset? FirstEventAt { get => Compact.Time(_firstEventAt); set => _firstEventAt = Compact.Ticks(value); }
    private long _firstEventAt;
    public DateTimeOffset? LastEventAt { get => Compact.Time(_lastEventAt); set => _lastEventAt = Compact.Ticks(value); }
    private long _lastEventAt;

    public DedupState Dedup { get; set; } = new();
    public UsageState Usage { get; set; } = new();
    public SupportState Support { get; set; } = new();
    public SentimentState Sentiment { get; set; } = new();
    public OutcomesState Outcomes { get; set; } = new();
    public BillingState Billing { get; set; } = new();
    public ProfileState Profile { get; set; } = new();
    public EvaluationState Evaluation { get; set; } = new();

    /// <summary>The alert state machine's memory (see <see cref="Alerting.AlertMachine"/>).</summary>
    public Alerting.AlertTrackState Alerts { get; set; } = new();

    /// <summary>A point a day and every band change (see <see cref="ScoreHistory"/>).</summary>
    public ScoreHistory History { get; set; } = new();

    public bool IsEmpty => EventCount == 0 && LateEventCount == 0;
}

/// <summary>A value with the event time and id that set it: the latest (time, id) wins, whatever the arrival order.</summary>
public sealed record Stamped<T>(DateTimeOffset At, string EventId, T Value)
{
    public bool IsNewerThan(Stamped<T>? other) =>
        other is null || At > other.At || (At == other.At && string.CompareOrdinal(EventId, other.EventId) > 0);
}

public static class Stamp
{
    public static Stamped<T> Latest<T>(Stamped<T>? current, Stamped<T> candidate) =>
        candidate.IsNewerThan(current) ? candidate : current!;
}

/// <summary>Human product usage in day buckets by event time (UTC days).</summary>
public sealed class UsageState
{
    /// <summary>Day buckets, sorted by day, covering at most the usage window.</summary>
    public List<DayBucket> Days { get; set; } = [];
    /// <summary>Key feature names this account has used; bit i of <see cref="DayBucket.Features"/> is name i.</summary>
    public List<string> FeatureNames { get; set; } = [];
    public DateTimeOffset? FirstHumanAt { get => Compact.Time(_firstHumanAt); set => _firstHumanAt = Compact.Ticks(value); }
    private long _firstHumanAt;
    public DateTimeOffset? LastHumanAt { get => Compact.Time(_lastHumanAt); set => _lastHumanAt = Compact.Ticks(value); }
    private long _lastHumanAt;
    public long HumanEvents { get; set; }

    /// <summary>The source of the latest human usage (null: the default source).</summary>
    public string? Source { get; set; }

    public bool HasData => LastHumanAt is not null;
}

/// <summary>
/// A day of usage, held inline in the account's list (a value, not an object each: scoring and
/// pruning read every bucket on every event). Change one in place through its index
/// (<c>CollectionsMarshal.AsSpan(days)[i]</c>), not through a copy.
/// </summary>
public struct DayBucket
{
    /// <summary>Days since 1970-01-01 (UTC).</summary>
    public int Day { get; set; }
    public int Events { get; set; }
    public ulong Features { get; set; }
    public int Workflows { get; set; }
    public double SessionSeconds { get; set; }
}

public sealed class SupportState
{
    public List<TicketRecord> Tickets { get; set; } = [];
    /// <summary>Times of the most recent escalations (at most support.maxTickets).</summary>
    /// <summary>Null until the first escalation (most accounts have none; an empty list is 32 bytes an account).</summary>
    public List<DateTimeOffset>? Escalations { get; set; }
    public bool HasData { get; set; }
}

/// <summary>
/// A ticket, held inline in its account's list (a value: pruning and scoring read every ticket on
/// every event, and an object each was a cache miss each). Change one in place through its index
/// (<c>CollectionsMarshal.AsSpan(tickets)[i]</c>), not through a copy.
/// </summary>
public struct TicketRecord
{
    public TicketRecord()
    {
    }

    public string Id { get; set; } = "";
    public DateTimeOffset? OpenedAt { readonly get => Compact.Time(_openedAt); set => _openedAt = Compact.Ticks(value); }
    private long _openedAt;
    public DateTimeOffset? ResolvedAt { readonly get => Compact.Time(_resolvedAt); set => _resolvedAt = Compact.Ticks(value); }
    private long _resolvedAt;
    public DateTimeOffset? EscalatedAt { readonly get => Compact.Time(_escalatedAt); set => _escalatedAt = Compact.Ticks(value); }
    private long _escalatedAt;
    /// <summary>The priority of the latest ticket_opened (by event time) that named one.</summary>
    public Stamped<string>? Priority { readonly get => _priority; set => (_priority, _weightModel) = (value, null); }
    private Stamped<string>? _priority;

    // The weight of Priority under the model that last asked. Scoring asks for every open ticket on
    // every event of the account; answering from the priority itself reads two more objects (the
    // stamped value and its string) that are rarely in the cache for an account not touched for a while.
    private Model.SupportModel? _weightModel;
    private double _weight;

    /// <summary>This ticket's priority weight under <paramref name="model"/> (<see cref="Model.SupportModel.PriorityWeight"/>).</summary>
    public double PriorityWeight(Model.SupportModel model)
    {
        if (!ReferenceEquals(_weightModel, model))
        {
            (_weight, _weightModel) = (model.PriorityWeight(_priority?.Value), model);
        }
        return _weight;
    }

    /// <summary>Open: opened or escalated, and not resolved (a resolution wins whatever the arrival order).</summary>
    public readonly bool IsOpen => ResolvedAt is null && (OpenedAt is not null || EscalatedAt is not null);

    public readonly DateTimeOffset? OpenSince => (OpenedAt, EscalatedAt) switch
    {
        ({ } o, { } e) => o < e ? o : e,
        ({ } o, null) => o,
        (null, { } e) => e,
        _ => null,
    };
}

/// <summary>
/// One survey answer, held inline in its account's list (a value of 32 bytes, not an object of 48 and
/// a reference): scoring reads every answer on every event, and an object each was a cache miss
/// each on an account not touched for a while. Reads and serialises as the record it replaced.
/// </summary>
public readonly record struct SurveyResponse(DateTimeOffset At, string EventId, int Score);

public sealed class SentimentState
{
    public List<SurveyResponse> Nps { get; set; } = [];
    /// <summary>Null until the first CSAT response.</summary>
    public List<SurveyResponse>? Csat { get; set; }

    public bool HasData => Nps.Count > 0 || Csat?.Count > 0;
}

public sealed record MilestoneRecord(string Name, DateTimeOffset At);

public sealed class OutcomesState
{
    /// <summary>Null until the first milestone.</summary>
    public List<MilestoneRecord>? Milestones { get; set; }
    public DateTimeOffset? FirstValueAt { get => Compact.Time(_firstValueAt); set => _firstValueAt = Compact.Ticks(value); }
    private long _firstValueAt;
    public bool HasEvents { get; set; }
}

public sealed class BillingState
{
    public bool HasData { get; set; }
    public DateTimeOffset? StartedAt { get => Compact.Time(_startedAt); set => _startedAt = Compact.Ticks(value); }
    private long _startedAt;
    public Stamped<double>? Mrr { get; set; }
    /// <summary>Most recent MRR values (for contraction), at most 16.</summary>
    public List<Stamped<double>>? MrrHistory { get; set; }
    public DateTimeOffset? LastFailureAt { get => Compact.Time(_lastFailureAt); set => _lastFailureAt = Compact.Ticks(value); }
    private long _lastFailureAt;
    public DateTimeOffset? LastRecoveryAt { get => Compact.Time(_lastRecoveryAt); set => _lastRecoveryAt = Compact.Ticks(value); }
    private long _lastRecoveryAt;
    /// <summary>Times of the most recent payment failures, at most 16.</summary>
    public List<DateTimeOffset>? Failures { get; set; }
    /// <summary>The latest cancellation, with its reason.</summary>
    public Stamped<string>? Cancellation { get; set; }
    /// <summary>The latest start or renewal: a cancellation before it no longer counts.</summary>
    public DateTimeOffset? LastActivationAt { get => Compact.Time(_lastActivationAt); set => _lastActivationAt = Compact.Ticks(value); }
    private long _lastActivationAt;
    public Stamped<DateTimeOffset>? RenewalDate { get; set; }

    public bool PaymentOutstanding => LastFailureAt is { } f && (LastRecoveryAt is not { } r || r < f);

    public bool CancellationScheduled => Cancellation is { } c && (LastActivationAt is not { } a || a < c.At);
}

public sealed class ProfileState
{
    public Stamped<string>? Name { get; set; }
    public Stamped<string>? Segment { get; set; }
    public Stamped<string>? Plan { get; set; }
    public Stamped<string>? CsmOwner { get; set; }
    public Stamped<int>? Seats { get; set; }
}

/// <summary>Health bands, ordered from worst to best.</summary>
public enum Band
{
    Red = 0,
    Yellow = 1,
    Green = 2,
}

/// <summary>
/// One explained move of the score: from, to, why, and how much each component moved it. A value
/// of 88 bytes held inline in the account's list rather than an object of 136 bytes and a reference:
/// an account keeps its last 20 changes, and every change was an object the collector had to
/// promote and trace. Reads and serialises as the record it replaced (same names, same JSON).
/// </summary>
public readonly record struct ScoreChange
{
    private readonly long _atTicks;
    // NaN: no score (the first change has no From); -1: no band.
    private readonly double _from;
    private readonly double _to;
    private readonly sbyte _fromBand;
    private readonly sbyte _toBand;

    [System.Text.Json.Serialization.JsonConstructor]
    public ScoreChange(DateTimeOffset at, double? from, double? to, Band? fromBand, Band? toBand, string cause, ComponentDictionary drivers)
    {
        _atTicks = at.UtcTicks;
        _from = from ?? double.NaN;
        _to = to ?? double.NaN;
        _fromBand = fromBand is { } f ? (sbyte)f : (sbyte)-1;
        _toBand = toBand is { } t ? (sbyte)t : (sbyte)-1;
        Cause = cause;
        Drivers = drivers;
    }

    /// <summary>When the score moved (UTC).</summary>
    public DateTimeOffset At => new(_atTicks, TimeSpan.Zero);
    public double? From => double.IsNaN(_from) ? null : _from;
    public double? To => double.IsNaN(_to) ? null : _to;
    public Band? FromBand => _fromBand < 0 ? null : (Band)_fromBand;
    public Band? ToBand => _toBand < 0 ? null : (Band)_toBand;
    public string Cause { get; }
    public ComponentDictionary Drivers { get; }
}

public sealed class EvaluationState
{
    public double? Score { get => Compact.Number(_score); set => _score = value ?? double.NaN; }
    private double _score = double.NaN;
    public Band? Band { get; set; }
    public DateTimeOffset? ScoredAt { get => Compact.Time(_scoredAt); set => _scoredAt = Compact.Ticks(value); }
    private long _scoredAt;
    /// <summary>Each component's last contribution to the score (weight share x component score).</summary>
    public ComponentDictionary Contributions { get; set; }
    /// <summary>The most recent explained changes, newest last.</summary>
    public List<ScoreChange> Changes { get; set; } = new(1);
}

/// <summary>
/// Optional instants and numbers of the account state held in 8 bytes each (UTC ticks, 0 for none;
/// NaN for no number) behind properties of the usual nullable types: a <c>DateTimeOffset?</c>
/// field takes 24 bytes and a <c>double?</c> 16, and an account has about twenty of them. The
/// snapshot's JSON is the same. Every instant here is UTC, so nothing is lost but the offset's zero.
/// </summary>
internal static class Compact
{
    public static DateTimeOffset? Time(long ticks) => ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);

    public static long Ticks(DateTimeOffset? value) => value?.UtcTicks ?? 0;

    public static double? Number(double value) => double.IsNaN(value) ? null : value;
}
