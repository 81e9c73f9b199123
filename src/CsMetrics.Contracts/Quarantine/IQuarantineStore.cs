using System.Text.Json.Serialization;

namespace CsMetrics.Contracts.Quarantine;

/// <summary>
/// A rejected event, kept with why and from whom so it can be fixed and replayed. <see cref="Key"/>
/// is derived from the producer and the raw event, so the same rejected event sent twice is kept
/// once.
/// </summary>
public sealed record QuarantinedEvent(
    string Key,
    string? EventId,
    string Producer,
    string? Source,
    string Format,
    string Reason,
    DateTimeOffset ReceivedAt,
    string Raw)
{
    /// <summary>A native envelope (<c>POST /v1/events</c>).</summary>
    public const string Native = "native";

    /// <summary>A Segment message (<c>/v1/track</c>, <c>/v1/batch</c>, ...).</summary>
    public const string Segment = "segment";

    /// <summary>Rejected raw events longer than this are kept cut short (and cannot be replayed).</summary>
    public const int MaxRawChars = 30_000;

    /// <summary>The reason without the offending value: what counts group by ("properties.score: expected integer 0..10").</summary>
    [JsonIgnore]
    public string ReasonKey => Reason.IndexOf(", got", StringComparison.Ordinal) is var i and > 0 ? Reason[..i] : Reason;
}

/// <summary>Where rejected events wait for a fix.</summary>
public interface IQuarantineStore
{
    /// <summary>Keeps them (the same key again replaces); returns when durable.</summary>
    Task AddAsync(IReadOnlyList<QuarantinedEvent> events, CancellationToken cancellationToken = default);

    /// <summary>Quarantined events (oldest first), optionally only one producer's; at most <paramref name="max"/> of them are read.</summary>
    Task<List<QuarantinedEvent>> ListAsync(string? producer, int max = int.MaxValue, CancellationToken cancellationToken = default);

    /// <summary>Forgets these entries (each found by its producer and key).</summary>
    Task RemoveAsync(IReadOnlyList<QuarantinedEvent> events, CancellationToken cancellationToken = default);
}

[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(QuarantinedEvent))]
public sealed partial class QuarantineJsonContext : JsonSerializerContext;
