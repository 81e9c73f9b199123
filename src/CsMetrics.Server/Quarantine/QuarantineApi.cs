using System.Text.Json;
using CsMetrics.Contracts.Quarantine;
using CsMetrics.Server.Access;
using CsMetrics.Server.Alerts;
using CsMetrics.Server.Ingest;

namespace CsMetrics.Server.Quarantine;

/// <summary>
/// <c>GET /v1/quarantine</c>: what was rejected (and what came too late), counted by reason and by
/// producer; <c>POST /v1/quarantine/replay</c>: validate again (after a catalog fix) and ingest what
/// passes now, removing it from the quarantine only once it is in. Late events stay listed, flagged,
/// and are not replayed: they were accepted and counted when they came.
/// </summary>
public static class QuarantineApi
{
    private const int ReplayChunk = 1000;

    /// <summary>A listing or a replay reads at most this many entries (a replay can be repeated for the rest).</summary>
    public const int MaxScanned = 100_000;

    public static IEndpointRouteBuilder MapQuarantineApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1/quarantine");
        v1.MapGet("", ListAsync).RequireScope(Scopes.Read).WithName("GetQuarantine");
        // A producer sees its own rejects with the key it sends events with.
        v1.MapGet("/mine", (HttpContext context, IQuarantineStore store, string? reason, int? limit, CancellationToken ct) =>
            ListAsync(store, context.Producer(), reason, limit, ct)).RequireScope(Scopes.Ingest).WithName("GetOwnQuarantine");
        v1.MapPost("/replay", ReplayAsync).RequireScope(Scopes.Admin).WithName("ReplayQuarantine");
        return app;
    }

    private static async Task<IResult> ListAsync(IQuarantineStore store, string? producer, string? reason, int? limit, CancellationToken ct)
    {
        var take = limit ?? 100;
        if (take is < 1 or > 1000)
        {
            return AlertsApi.Bad("Bad limit", $"limit: expected 1 to 1000, got {take}");
        }
        var scanned = await store.ListAsync(Empty(producer), MaxScanned, ct);
        var all = scanned
            .Where(e => reason is null || e.ReasonKey.StartsWith(reason, StringComparison.Ordinal))
            .ToList();
        return TypedResults.Ok(new QuarantineResponse(
            scanned.Count >= MaxScanned,
            all.Count,
            all.Count(e => e.Reason.StartsWith(EventIngestor.LatePrefix, StringComparison.Ordinal)),
            all.GroupBy(e => e.ReasonKey).OrderByDescending(g => g.Count()).ToDictionary(g => g.Key, g => g.Count()),
            all.GroupBy(e => e.Producer).OrderByDescending(g => g.Count()).ToDictionary(g => g.Key, g => g.Count()),
            [.. all.OrderByDescending(e => e.ReceivedAt).Take(take)]));
    }

    private static async Task<IResult> ReplayAsync(IQuarantineStore store, EventIngestor ingestor, Segment.SegmentIngest segment, string? producer, string? reason, CancellationToken ct)
    {
        var candidates = (await store.ListAsync(Empty(producer), MaxScanned, ct))
            .Where(e => !e.Reason.StartsWith(EventIngestor.LatePrefix, StringComparison.Ordinal))
            .Where(e => reason is null || e.ReasonKey.StartsWith(reason, StringComparison.Ordinal))
            .ToList();
        int replayed = 0, accepted = 0, duplicates = 0, stillRejected = 0;
        foreach (var group in candidates.GroupBy(e => (e.Producer, e.Format)))
        {
            foreach (var chunk in group.Chunk(ReplayChunk))
            {
                if (group.Key.Format == QuarantinedEvent.Segment)
                {
                    var (messages, owners, docs, bad) = Parse(chunk);
                    try
                    {
                        // Each message with the time it first arrived, so the clock-skew correction means what it meant then.
                        var outcome = new Segment.SegmentOutcome[messages.Count];
                        var dups = 0;
                        for (var k = 0; k < messages.Count; k++)
                        {
                            var one = await segment.IngestAsync([messages[k]], [owners[k].Raw], null, null, group.Key.Producer, owners[k].ReceivedAt, replay: true);
                            outcome[k] = one.Outcomes[0];
                            dups += one.Duplicates;
                        }
                        await store.RemoveAsync([.. owners.Where((_, i) => outcome[i] != Segment.SegmentOutcome.Rejected)], ct);
                        replayed += chunk.Length;
                        accepted += outcome.Count(o => o is Segment.SegmentOutcome.Accepted or Segment.SegmentOutcome.Held);
                        duplicates += dups;
                        stillRejected += outcome.Count(o => o == Segment.SegmentOutcome.Rejected) + bad;
                    }
                    finally
                    {
                        docs.ForEach(d => d.Dispose());
                    }
                    continue;
                }
                var (envelopes, documents, unreadable) = Envelopes(chunk, group.Key.Format);
                try
                {
                    var result = await ingestor.IngestAsync([.. envelopes.Select(e => e.Envelope)],
                        new IngestOrigin(group.Key.Producer, group.Key.Format, [.. envelopes.Select(e => e.Entry.Raw)], Replay: true));
                    var failed = result.Rejected.Select(r => r.Index).ToHashSet();
                    // In now (accepted, or already in from an earlier attempt): out of the quarantine.
                    var done = envelopes.Where((_, i) => !failed.Contains(i)).Select(e => e.Entry).ToList();
                    await store.RemoveAsync(done, ct);
                    replayed += chunk.Length;
                    accepted += result.Accepted;
                    duplicates += result.Duplicates;
                    stillRejected += failed.Count + unreadable;
                }
                finally
                {
                    foreach (var d in documents)
                    {
                        d.Dispose();
                    }
                }
            }
        }
        return TypedResults.Ok(new ReplayResponse(replayed, accepted, duplicates, stillRejected));
    }

    private static (List<(QuarantinedEvent Entry, JsonElement Envelope)>, List<JsonDocument>, int Unreadable) Envelopes(QuarantinedEvent[] entries, string format)
    {
        var envelopes = new List<(QuarantinedEvent, JsonElement)>();
        var documents = new List<JsonDocument>();
        var unreadable = 0;
        foreach (var entry in entries)
        {
            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(entry.Raw);
            }
            catch (JsonException)
            {
                unreadable++; // cut short, or never JSON: stays, with its reason
                continue;
            }
            documents.Add(document);
            JsonElement? envelope = format == QuarantinedEvent.Native ? document.RootElement : null;
            if (envelope is { } e)
            {
                envelopes.Add((entry, e));
            }
            else
            {
                unreadable++;
            }
        }
        return (envelopes, documents, unreadable);
    }

    private static (List<JsonElement>, List<QuarantinedEvent>, List<JsonDocument>, int Unreadable) Parse(QuarantinedEvent[] entries)
    {
        var messages = new List<JsonElement>();
        var owners = new List<QuarantinedEvent>();
        var documents = new List<JsonDocument>();
        var unreadable = 0;
        foreach (var entry in entries)
        {
            try
            {
                var document = JsonDocument.Parse(entry.Raw);
                documents.Add(document);
                messages.Add(document.RootElement);
                owners.Add(entry);
            }
            catch (JsonException)
            {
                unreadable++;
            }
        }
        return (messages, owners, documents, unreadable);
    }

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

/// <param name="Partial">More than <see cref="QuarantineApi.MaxScanned"/> entries are kept: the counts cover the first ones read.</param>
public sealed record QuarantineResponse(
    bool Partial,
    int Total,
    int Late,
    Dictionary<string, int> ByReason,
    Dictionary<string, int> ByProducer,
    IReadOnlyList<QuarantinedEvent> Events);

public sealed record ReplayResponse(int Replayed, int Accepted, int Duplicates, int StillRejected);
