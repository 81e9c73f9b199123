using Microsoft.Extensions.DependencyInjection;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;
using CsMetrics.Contracts.Quarantine;
using CsMetrics.Server.Durability;
using CsMetrics.Server.Quarantine;
using CsMetrics.Scoring.Catalog;
using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.Model;

namespace CsMetrics.Server.Ingest;

/// <summary>Who sent a batch, and in what form (for the quarantine and drift detection).</summary>
/// <param name="Raw">The original text of each event when it is not the envelope itself (a Segment message).</param>
/// <param name="Replay">From the quarantine: not counted again toward schema drift.</param>
public sealed record IngestOrigin(string Producer, string Format, IReadOnlyList<string>? Raw = null, bool Replay = false)
{
    public static IngestOrigin Native(string producer) => new(producer, QuarantinedEvent.Native);
}

/// <summary>
/// Validates a parsed batch against the catalog and sends each account its events in one
/// grain call. Every event ends up accepted, a duplicate, or rejected with a reason; a rejected
/// event is kept in the quarantine (and an event older than the grace window is kept there too,
/// flagged late) before the answer goes out, so nothing is lost.
/// </summary>
public sealed class EventIngestor(Catalog.CatalogHolder catalog, DurableLog log, IQuarantineStore quarantine, DriftMonitor drift, ScoringModel model, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time)
{
    public const string LatePrefix = "late: ";

    public Task<IngestResponse> IngestAsync(IReadOnlyList<JsonElement> events) => IngestAsync(events, IngestOrigin.Native("anonymous"));

    public async Task<IngestResponse> IngestAsync(IReadOnlyList<JsonElement> events, IngestOrigin origin)
    {
        var now = time.GetUtcNow();
        var graceStart = now.AddHours(-model.Ingest.GraceHours);
        List<QuarantinedEvent>? kept = null;
        var validator = catalog.Validator;
        var rejected = new List<RejectedEvent>();
        var byAccount = new Dictionary<string, List<HealthEvent>>(StringComparer.Ordinal);
        // The ids of an account's events in this body, once it has more than a few (see IsRepeat).
        Dictionary<string, HashSet<string>>? idsByAccount = null;
        var duplicates = 0;

        for (var i = 0; i < events.Count; i++)
        {
            if (!validator.TryValidate(events[i], now, out var e, out var reason))
            {
                var id = IdOf(events[i]);
                rejected.Add(new RejectedEvent(i, id, reason!));
                (kept ??= []).Add(Keep(origin, i, events[i], id, reason!, now));
                continue;
            }
            if (e!.Timestamp < graceStart)
            {
                // Accepted and counted (as late) by its account, not applied to the live score: kept here, flagged.
                (kept ??= []).Add(Keep(origin, i, events[i], e.Id,
                    $"{LatePrefix}event time {e.Timestamp:O} is older than the grace window of {model.Ingest.GraceHours} hours; counted, not applied to the live score", now));
            }
            if (!byAccount.TryGetValue(e!.Account, out var list))
            {
                byAccount[e.Account] = list = new List<HealthEvent>(1);
            }
            else if (IsRepeat(list, e, ref idsByAccount))
            {
                duplicates++; // the same event twice in one body
                continue;
            }
            list.Add(e);
        }

        // Quarantine and log together: the answer waits for both, so neither a reject nor an accept is lost.
        var keeping = kept is null ? Task.CompletedTask : quarantine.AddAsync(kept);
        var results = byAccount.Count == 0 ? [] : await log.AppendAndDeliverAsync(byAccount);
        await keeping;
        if (!origin.Replay)
        {
            drift.Record(origin.Producer, events.Count - rejected.Count, rejected);
        }

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

    /// <summary>
    /// Whether the body already had an event with this id for this account. An account has one or a
    /// few events in most bodies, so its list is scanned; past <see cref="ScanLimit"/> events its ids
    /// go into a set of their own. (One set of every (account, id) pair of the body cost an entry
    /// and two string hashes per event.)
    /// </summary>
    private static bool IsRepeat(List<HealthEvent> list, HealthEvent e, ref Dictionary<string, HashSet<string>>? idsByAccount)
    {
        if (list.Count < ScanLimit)
        {
            foreach (var other in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list))
            {
                if (string.Equals(other.Id, e.Id, StringComparison.Ordinal))
                {
                    return true;
                }
            }
            return false;
        }
        idsByAccount ??= new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        if (!idsByAccount.TryGetValue(e.Account, out var ids))
        {
            idsByAccount[e.Account] = ids = new HashSet<string>(list.Count * 2, StringComparer.Ordinal);
            foreach (var other in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list))
            {
                ids.Add(other.Id);
            }
        }
        return !ids.Add(e.Id);
    }

    private const int ScanLimit = 16;

    private static QuarantinedEvent Keep(IngestOrigin origin, int index, JsonElement envelope, string? id, string reason, DateTimeOffset now)
    {
        var raw = origin.Raw?[index] ?? envelope.GetRawText();
        if (raw.Length > QuarantinedEvent.MaxRawChars)
        {
            raw = raw[..QuarantinedEvent.MaxRawChars];
        }
        var source = envelope.ValueKind == JsonValueKind.Object && envelope.TryGetProperty("source", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        return new QuarantinedEvent(KeyOf(origin.Producer, raw), id, origin.Producer, source, origin.Format, reason, now, raw);
    }

    /// <summary>The same raw event from the same producer is one quarantine entry, however often it is sent.</summary>
    public static string KeyOf(string producer, string raw) =>
        Convert.ToHexStringLower(XxHash128.Hash(Encoding.UTF8.GetBytes(producer + "\n" + raw)));

    private static string? IdOf(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
            ? id.GetString() is { Length: <= EventValidator.MaxIdLength } s ? s : null
            : null;
}
