using System.Text.Json.Serialization;
using Orleans.Concurrency;

namespace CsMetrics.Contracts.Alerts;

/// <summary>
/// The alert inbox (one grain, key 0): turns the accounts' alert signals into alerts, keeps one
/// open alert per account and type, numbers every change of an alert in one sequence (the id of
/// server-sent events and the cursor of webhooks), moves alerts through acknowledge / assign /
/// snooze / resolve, escalates unacknowledged critical alerts, and persists every change before
/// it is visible. One grain gives one total order; alerts arrive batched per silo (see the alert
/// outbox), orders of magnitude below the event rate.
/// </summary>
[Alias("csm.IAlertInboxGrain")]
public interface IAlertInboxGrain : IGrainWithIntegerKey
{
    /// <summary>Applies signals in order and persists the resulting changes before returning.</summary>
    [Alias("SubmitAsync")]
    Task SubmitAsync(AlertNotice[] notices);

    /// <summary>Current alerts matching the filter, newest first.</summary>
    [Alias("QueryAsync"), ReadOnly, AlwaysInterleave]
    Task<Alert[]> QueryAsync(AlertQuery query);

    /// <summary>Alert changes with a sequence number above <paramref name="after"/>, oldest first.</summary>
    [Alias("ReadAfterAsync"), ReadOnly, AlwaysInterleave]
    Task<Alert[]> ReadAfterAsync(long after, int limit);

    /// <summary>The highest sequence number handed out.</summary>
    [Alias("LastSequenceAsync"), ReadOnly, AlwaysInterleave]
    Task<long> LastSequenceAsync();

    /// <summary>Acknowledge, assign, snooze or resolve one alert; null if no alert has that id.</summary>
    [Alias("TransitionAsync")]
    Task<AlertTransitionResult> TransitionAsync(string id, AlertCommand command);

    /// <summary>Escalates overdue critical alerts and reopens expired snoozes (called by every silo's clock).</summary>
    [Alias("TickAsync")]
    Task TickAsync();
}

/// <summary>Alert states (PRODUCT.md public API contract).</summary>
public static class AlertStates
{
    public const string Open = "open";
    public const string Acknowledged = "acknowledged";
    public const string Snoozed = "snoozed";
    public const string Resolved = "resolved";

    public static IReadOnlyList<string> All { get; } = [Open, Acknowledged, Snoozed, Resolved];
}

/// <summary>What an account (or the source monitor) asks the inbox to do.</summary>
[GenerateSerializer, Immutable, Alias("csm.AlertNotice")]
public sealed record AlertNotice(
    [property: Id(0)] string Account,
    [property: Id(1)] string Action,
    [property: Id(2)] string Type,
    [property: Id(3)] string Severity,
    [property: Id(4)] DateTimeOffset At,
    [property: Id(5)] double? ScoreBefore,
    [property: Id(6)] double? ScoreAfter,
    [property: Id(7)] string? BandBefore,
    [property: Id(8)] string? BandAfter,
    [property: Id(9)] string Cause,
    [property: Id(10)] Dictionary<string, double> Drivers,
    [property: Id(11)] string[] Playbook,
    [property: Id(12)] string? Owner)
{
    public const string Raise = "raise";
    public const string Update = "update";
    public const string Clear = "clear";
}

/// <summary>
/// One alert as CS teams see it. <see cref="Sequence"/> is the number of its latest change (the
/// server-sent event id); <see cref="Id"/> stays the same through every change.
/// </summary>
[GenerateSerializer, Immutable, Alias("csm.Alert")]
public sealed record Alert(
    [property: Id(0)] string Id,
    [property: Id(1)] long Sequence,
    [property: Id(2)] string Account,
    [property: Id(3)] string Type,
    [property: Id(4)] string Severity,
    [property: Id(5)] DateTimeOffset At,
    [property: Id(6)] double? ScoreBefore,
    [property: Id(7)] double? ScoreAfter,
    [property: Id(8)] string? BandBefore,
    [property: Id(9)] string? BandAfter,
    [property: Id(10)] string Cause,
    [property: Id(11)] Dictionary<string, double> Drivers,
    [property: Id(12)] string State,
    [property: Id(13)] string[] Playbook,
    [property: Id(14)] DateTimeOffset UpdatedAt,
    [property: Id(15)] int Triggers,
    [property: Id(16)] string? Owner,
    [property: Id(17)] DateTimeOffset? AcknowledgedAt,
    [property: Id(18)] DateTimeOffset? SnoozedUntil,
    [property: Id(19)] DateTimeOffset? ResolvedAt,
    [property: Id(20)] string? Resolution,
    [property: Id(21)] DateTimeOffset? EscalatedAt,
    [property: Id(22)] string? EscalationOf,
    [property: Id(23)] string Change) : CsMetrics.Contracts.Storage.IChangeRecord
{
    string CsMetrics.Contracts.Storage.IChangeRecord.Key => Id;

    /// <summary>What the latest change was: raised, updated, acknowledged, assigned, snoozed, reopened, resolved, escalated.</summary>
    public static class Changes
    {
        public const string Raised = "raised";
        public const string Updated = "updated";
        public const string Acknowledged = "acknowledged";
        public const string Assigned = "assigned";
        public const string Snoozed = "snoozed";
        public const string Reopened = "reopened";
        public const string Resolved = "resolved";
        public const string Escalated = "escalated";
    }

    [JsonIgnore]
    public bool IsClosed => State == AlertStates.Resolved;
}

/// <summary>Filters of GET /v1/alerts; null means any.</summary>
[GenerateSerializer, Immutable, Alias("csm.AlertQuery")]
public sealed record AlertQuery(
    [property: Id(0)] string? Severity,
    [property: Id(1)] string? Type,
    [property: Id(2)] string? State,
    [property: Id(3)] string? Account,
    [property: Id(4)] string? Owner,
    [property: Id(5)] int Limit);

/// <summary>ack, assign (with an owner), snooze (until a time), resolve.</summary>
[GenerateSerializer, Immutable, Alias("csm.AlertCommand")]
public sealed record AlertCommand(
    [property: Id(0)] string Kind,
    [property: Id(1)] string? Owner,
    [property: Id(2)] DateTimeOffset? Until,
    [property: Id(3)] string? Note)
{
    public const string Acknowledge = "ack";
    public const string Assign = "assign";
    public const string Snooze = "snooze";
    public const string Resolve = "resolve";
}

[GenerateSerializer, Immutable, Alias("csm.AlertTransitionResult")]
public sealed record AlertTransitionResult(
    [property: Id(0)] Alert? Alert,
    [property: Id(1)] string? Error);

/// <summary>
/// Where alerts are persisted, log-structured: every change is appended (in batches), and now and
/// then a snapshot of every alert's current form lets a restart read the snapshot plus the changes
/// after it instead of the whole history.
/// </summary>
public interface IAlertStore : CsMetrics.Contracts.Storage.IChangeStore<Alert>;

/// <summary>Stored alert batches: JSON arrays of alerts.</summary>
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<Alert>))]
public sealed partial class AlertListJsonContext : JsonSerializerContext;

/// <summary>The stored form of alerts (JSON, so rows stay readable and tolerant of added fields).</summary>
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(Alert))]
public sealed partial class AlertJsonContext : JsonSerializerContext;
