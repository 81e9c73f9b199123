using CsMetrics.Scoring.Events;

namespace CsMetrics.Contracts.Serialization;

/// <summary>
/// Wire form of <see cref="HealthEvent"/>: the scoring library stays free of Orleans, and
/// Orleans serializes its events through this surrogate.
/// </summary>
[GenerateSerializer, Immutable, Alias("csm.HealthEvent")]
public readonly record struct HealthEventSurrogate(
    [property: Id(0)] string Id,
    [property: Id(1)] string Account,
    [property: Id(2)] string Type,
    [property: Id(3)] EventFamily Family,
    [property: Id(4)] long UtcTicks,
    [property: Id(5)] string? User,
    [property: Id(6)] Actor Actor,
    [property: Id(7)] Dictionary<string, string>? Properties,
    [property: Id(8)] string? Source);

[RegisterConverter]
public sealed class HealthEventSurrogateConverter : IConverter<HealthEvent, HealthEventSurrogate>
{
    public HealthEvent ConvertFromSurrogate(in HealthEventSurrogate s) =>
        new(s.Id, s.Account, s.Type, s.Family, new DateTimeOffset(s.UtcTicks, TimeSpan.Zero), s.User, s.Actor,
            s.Properties is { Count: > 0 } p ? p : HealthEvent.NoProperties, s.Source);

    public HealthEventSurrogate ConvertToSurrogate(in HealthEvent value) => new(
        value.Id,
        value.Account,
        value.Type,
        value.Family,
        value.Timestamp.UtcTicks,
        value.User,
        value.Actor,
        value.Properties.Count == 0 ? null
            : value.Properties as Dictionary<string, string> ?? new Dictionary<string, string>(value.Properties),
        value.Source);
}
