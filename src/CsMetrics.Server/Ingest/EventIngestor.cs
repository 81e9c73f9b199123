using System.Text.Json;
using CsMetrics.Server.Durability;
using CsMetrics.Scoring.Catalog;
using CsMetrics.Scoring.Events;

namespace CsMetrics.Server.Ingest;

/// <summary>
/// Validates a parsed batch against the catalog and sends each account its events in one
/// grain call. Every event ends up accepted, a duplicate, or rejected with a reason.
/// </summary>
public sealed class EventIngestor(EventValidator validator, DurableLog log, TimeProvider time)
{
    public async Task<IngestResponse> IngestAsync(IReadOnlyList<JsonElement> events)
    {
        var now = time.GetUtcNow();
        var rejected = new List<RejectedEvent>();
        var byAccount = new Dictionary<string, List<HealthEvent>>(StringComparer.Ordinal);
        var seen = new HashSet<(string Account, string Id)>();
        var duplicates = 0;

        for (var i = 0; i < events.Count; i++)
        {
            if (!validator.TryValidate(events[i], now, out var e, out var reason))
            {
                rejected.Add(new RejectedEvent(i, IdOf(events[i]), reason!));
                continue;
            }
            if (!seen.Add((e!.Account, e.Id)))
            {
                duplicates++; // the same event twice in one body
                continue;
            }
            if (!byAccount.TryGetValue(e.Account, out var list))
            {
                byAccount[e.Account] = list = [];
            }
            list.Add(e);
        }

        var results = byAccount.Count == 0 ? [] : await log.AppendAndDeliverAsync(byAccount);

        int accepted = 0, late = 0;
        var changed = new List<ChangedAccount>();
        foreach (var r in results)
        {
            accepted += r.Applied + r.Late;
            late += r.Late;
            duplicates += r.Duplicates;
            if (r.Change is { } c)
            {
                changed.Add(new ChangedAccount(r.Account, c.From, c.To, c.Band));
            }
        }
        changed.Sort(static (a, b) => string.CompareOrdinal(a.Account, b.Account));
        return new IngestResponse(accepted, duplicates, late, rejected, changed);
    }

    private static string? IdOf(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
            ? id.GetString() is { Length: <= EventValidator.MaxIdLength } s ? s : null
            : null;
}
