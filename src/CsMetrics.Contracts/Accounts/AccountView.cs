using CsMetrics.Contracts.Alerts;

namespace CsMetrics.Contracts.Accounts;

/// <summary>The live state of an account as ops see it (GET /v1/accounts/{id}).</summary>
[GenerateSerializer, Immutable, Alias("csm.AccountView")]
public sealed record AccountView(
    [property: Id(0)] string Account,
    [property: Id(1)] double? Score,
    [property: Id(2)] string? Band,
    [property: Id(3)] Dictionary<string, ComponentView> Components,
    [property: Id(4)] ChangeView[] Changes,
    [property: Id(5)] DateTimeOffset? LastEventAt,
    [property: Id(6)] long EventCount,
    [property: Id(7)] Alert[] OpenAlerts,
    [property: Id(8)] DateTimeOffset ScoredAt,
    [property: Id(9)] string ModelVersion,
    [property: Id(10)] long LateEventCount,
    [property: Id(11)] ProfileView Profile,
    [property: Id(12)] string? Explanation);

[GenerateSerializer, Immutable, Alias("csm.ComponentView")]
public sealed record ComponentView(
    [property: Id(0)] double? Score,
    [property: Id(1)] double Weight,
    [property: Id(2)] double EffectiveWeight,
    [property: Id(3)] bool NoData,
    [property: Id(4)] Dictionary<string, MetricView> Metrics);

[GenerateSerializer, Immutable, Alias("csm.MetricView")]
public sealed record MetricView(
    [property: Id(0)] double? Value,
    [property: Id(1)] double? Score,
    [property: Id(2)] double Weight,
    [property: Id(3)] bool NoData,
    [property: Id(4)] string Detail);

/// <summary>One explained score change: <c>81 → 74.5: ticket T-123 escalated, support −7</c>.</summary>
[GenerateSerializer, Immutable, Alias("csm.ChangeView")]
public sealed record ChangeView(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] double? From,
    [property: Id(2)] double? To,
    [property: Id(3)] string? FromBand,
    [property: Id(4)] string? ToBand,
    [property: Id(5)] string Cause,
    [property: Id(6)] Dictionary<string, double> Drivers,
    [property: Id(7)] string Summary);

[GenerateSerializer, Immutable, Alias("csm.ProfileView")]
public sealed record ProfileView(
    [property: Id(0)] string? Name,
    [property: Id(1)] string? Segment,
    [property: Id(2)] string? Plan,
    [property: Id(3)] string? CsmOwner,
    [property: Id(4)] int? Seats,
    [property: Id(5)] double? Mrr,
    [property: Id(6)] DateTimeOffset? RenewalDate);

/// <summary>GET /v1/accounts/{id}/history: a point a day and every band change with its cause.</summary>
[GenerateSerializer, Immutable, Alias("csm.HistoryView")]
public sealed record HistoryView(
    [property: Id(0)] string Account,
    [property: Id(1)] DailyPointView[] Daily,
    [property: Id(2)] BandChangeView[] BandChanges);

[GenerateSerializer, Immutable, Alias("csm.DailyPointView")]
public sealed record DailyPointView([property: Id(0)] string Date, [property: Id(1)] double Score, [property: Id(2)] string Band);

[GenerateSerializer, Immutable, Alias("csm.BandChangeView")]
public sealed record BandChangeView(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] double? From,
    [property: Id(2)] double To,
    [property: Id(3)] string? FromBand,
    [property: Id(4)] string ToBand,
    [property: Id(5)] string Cause);
