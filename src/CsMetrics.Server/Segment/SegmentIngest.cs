using Microsoft.Extensions.DependencyInjection;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Quarantine;
using CsMetrics.Scoring.Catalog;
using CsMetrics.Server.Ingest;
using CsMetrics.Server.Quarantine;
using Microsoft.Extensions.Options;

namespace CsMetrics.Server.Segment;

/// <summary>How Segment and RudderStack calls become CsMetrics events (section <c>CsMetrics:Segment</c>).</summary>
public sealed class SegmentOptions
{
    public const string Section = "CsMetrics:Segment";

    /// <summary>Track event names to catalog types ("Report Exported" -> "feature_used"). A name not listed maps to its snake_case form if the catalog has that type.</summary>
    public Dictionary<string, string> EventTypes { get; set; } = new(StringComparer.Ordinal);

    /// <summary>A track property that names the account, when <c>context.groupId</c> does not.</summary>
    public string AccountProperty { get; set; } = "accountId";
}

/// <summary>What became of one Segment message.</summary>
public enum SegmentOutcome
{
    Accepted,
    Held,
    Ignored,
    Rejected,
}

/// <summary>
/// Maps Segment messages to CsMetrics envelopes and ingests them through the same validation,
/// log and quarantine as <c>POST /v1/events</c>. <c>messageId</c> is the event id;
/// <c>timestamp</c> is corrected for the client's clock as Segment documents it
/// (<c>receivedAt - (sentAt - timestamp)</c>); the account comes from <c>context.groupId</c>, the
/// configured track property, or the user's last <c>group</c> call; events of a user with no known
/// account are held (durably, per user) and ingested when a <c>group</c> call names it.
/// <c>group</c> traits update the account (name, plan, segment/tier, csmOwner, seats, renewalDate);
/// <c>page</c> and <c>screen</c> count as activity (a <c>login</c>); <c>identify</c> and <c>alias</c>
/// only tie a user to an account when their traits name one.
/// </summary>
public sealed class SegmentIngest(
    EventIngestor ingestor,
    Catalog.CatalogHolder catalogs,
    IQuarantineStore quarantine,
    DriftMonitor drift,
    IGrainFactory grains,
    IOptions<SegmentOptions> options,
    [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time)
{
    /// <summary>Segment's limit for one message.</summary>
    public const int MaxMessageBytes = 32 * 1024;

    /// <summary>Segment's limit for one batch.</summary>
    public const int MaxBatchBytes = 500 * 1024;

    private const int MaxCachedUsers = 1_000_000;

    /// <summary>How long this node trusts what it learned of a user's account (another node may see the user re-grouped).</summary>
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, (string Account, DateTimeOffset Until)> _accountOfUser = new(StringComparer.Ordinal);

    public sealed record Result(SegmentOutcome[] Outcomes, int Duplicates)
    {
        public int Count(SegmentOutcome outcome) => Outcomes.Count(o => o == outcome);
    }

    private sealed record Pending(int Index, JsonObject Envelope);

    /// <param name="receivedAt">When the messages arrived: now, or for a replay from the quarantine, when they first came (for the clock-skew correction).</param>
    /// <param name="replay">From the quarantine: not counted again toward schema drift.</param>
    public async Task<Result> IngestAsync(IReadOnlyList<JsonElement> messages, IReadOnlyList<string> raws, string? routeType, DateTimeOffset? batchSentAt, string producer,
        DateTimeOffset? receivedAt = null, bool replay = false)
    {
        var now = receivedAt ?? time.GetUtcNow();
        var outcomes = new SegmentOutcome[messages.Count];
        var ready = new List<Pending>();
        var held = new Dictionary<string, List<Pending>>(StringComparer.Ordinal);
        var errors = new List<(int Index, string? Id, string Reason)>();
        var released = new List<(string User, string[] Envelopes, string Account)>();
        var tied = new Dictionary<string, string>(StringComparer.Ordinal);

        for (var i = 0; i < messages.Count; i++)
        {
            try
            {
                await MapAsync(i);
            }
            catch (InvalidOperationException)
            {
                // System.Text.Json refuses to decode strings such as a lone "\uD800" escape.
                errors.Add((i, null, "message: a string in this message is not valid Unicode text (e.g. an unpaired \\uD800 escape)"));
            }
        }

        async Task MapAsync(int i)
        {
            var m = messages[i];
            var raw = raws[i];
            string? error;
            if (Encoding.UTF8.GetByteCount(raw) > MaxMessageBytes)
            {
                errors.Add((i, null, $"message: at most {MaxMessageBytes} bytes per event (Segment's limit), got {Encoding.UTF8.GetByteCount(raw)}"));
                return;
            }
            if (m.ValueKind != JsonValueKind.Object)
            {
                errors.Add((i, null, $"message: expected a Segment message object, got {m.ValueKind.ToString().ToLowerInvariant()}"));
                return;
            }
            var type = routeType ?? Str(m, "type");
            var id = Str(m, "messageId");
            if (id is null)
            {
                errors.Add((i, null, "messageId: expected a non-empty string (it is the event id that makes retries safe), got " + Show(m, "messageId")));
                return;
            }
            var userKey = UserKey(m);
            if (!Timestamp(m, batchSentAt, now, out var at, out error))
            {
                errors.Add((i, id, error!));
                return;
            }
            switch (type)
            {
                case "group":
                {
                    var account = Str(m, "groupId");
                    if (account is null)
                    {
                        errors.Add((i, id, "groupId: expected the account id (a non-empty string), got " + Show(m, "groupId")));
                        return;
                    }
                    await TieAllAsync(m, account, released, tied);
                    var traits = Traits(m, "traits");
                    if (traits.Count > 0)
                    {
                        ready.Add(new Pending(i, Envelope(id, account, "account_updated", at, m, traits)));
                    }
                    else
                    {
                        outcomes[i] = SegmentOutcome.Ignored;
                    }
                    break;
                }
                case "identify" or "alias":
                {
                    // Only ties the user to an account when its traits name one.
                    if (m.TryGetProperty("traits", out var t) && t.ValueKind == JsonValueKind.Object
                        && (Str(t, "groupId") ?? Str(t, "accountId") ?? (t.TryGetProperty("company", out var c) && c.ValueKind == JsonValueKind.Object ? Str(c, "id") : null)) is { } account)
                    {
                        await TieAllAsync(m, account, released, tied);
                    }
                    outcomes[i] = SegmentOutcome.Ignored;
                    break;
                }
                case "track" or "page" or "screen":
                {
                    string catalogType;
                    JsonObject properties;
                    if (type == "track")
                    {
                        var name = Str(m, "event");
                        if (name is null)
                        {
                            errors.Add((i, id, "event: expected the track event's name, got " + Show(m, "event")));
                            return;
                        }
                        if (CatalogTypeOf(name) is not { } mapped)
                        {
                            errors.Add((i, id, $"event: \"{name}\" maps to no catalog type (map it in CsMetrics:Segment:EventTypes, or add a type \"{SnakeCase(name)}\" to the catalog)"));
                            return;
                        }
                        catalogType = mapped;
                        properties = Properties(m);
                    }
                    else
                    {
                        catalogType = "login";
                        properties = [];
                    }
                    var account = AccountOf(m) ?? (userKey is null ? null : await KnownAccountAsync(userKey));
                    var envelope = Envelope(id, account, catalogType, at, m, properties);
                    if (account is not null)
                    {
                        ready.Add(new Pending(i, envelope));
                    }
                    else if (userKey is not null)
                    {
                        (held.TryGetValue(userKey, out var list) ? list : held[userKey] = []).Add(new Pending(i, envelope));
                    }
                    else
                    {
                        errors.Add((i, id, "userId: expected userId or anonymousId (to find the account), or context.groupId naming the account"));
                    }
                    break;
                }
                default:
                    errors.Add((i, id, $"type: expected one of track, identify, group, page, screen, alias, got {(type is null ? "nothing" : $"\"{type}\"")}"));
                    break;
            }
        }

        // Held events first (durable per user), then the batch through the normal pipeline, then
        // the events a group call released, then the quarantine for what was refused.
        foreach (var (user, pending) in held)
        {
            // Tied later in this same batch, or meanwhile by another request: in now, not held.
            var account = tied.GetValueOrDefault(user);
            if (account is null)
            {
                try
                {
                    account = await grains.GetGrain<ISegmentUserGrain>(user).HoldAsync([.. pending.Select(p => p.Envelope.ToJsonString())]);
                }
                catch (InvalidOperationException e)
                {
                    errors.AddRange(pending.Select(p => (p.Index, (string?)(string?)p.Envelope["id"], e.Message)));
                    continue;
                }
            }
            foreach (var p in pending)
            {
                if (account is null)
                {
                    outcomes[p.Index] = SegmentOutcome.Held;
                }
                else
                {
                    p.Envelope["account"] = account;
                    ready.Add(p);
                }
            }
        }
        var duplicates = 0;
        if (ready.Count > 0)
        {
            var response = await IngestEnvelopesAsync([.. ready.Select(p => p.Envelope)], [.. ready.Select(p => raws[p.Index])], QuarantinedEvent.Segment, producer, replay);
            duplicates += response.Duplicates;
            var rejected = response.Rejected.Select(r => r.Index).ToHashSet();
            for (var k = 0; k < ready.Count; k++)
            {
                outcomes[ready[k].Index] = rejected.Contains(k) ? SegmentOutcome.Rejected : SegmentOutcome.Accepted;
            }
        }
        foreach (var (user, envelopes, account) in released)
        {
            var objects = envelopes.Select(e => JsonNode.Parse(e)!.AsObject()).ToList();
            foreach (var o in objects)
            {
                o["account"] = account;
            }
            await IngestEnvelopesAsync(objects, [.. objects.Select(o => o.ToJsonString())], QuarantinedEvent.Native, producer, replay);
            await grains.GetGrain<ISegmentUserGrain>(user).ReleasedAsync(envelopes);
        }
        if (errors.Count > 0)
        {
            await quarantine.AddAsync([.. errors.Select(e => new QuarantinedEvent(
                EventIngestor.KeyOf(producer, Cut(raws[e.Index])), e.Id, producer, "segment", QuarantinedEvent.Segment, e.Reason, now, Cut(raws[e.Index])))]);
            if (!replay)
            {
                drift.Record(producer, 0, [.. errors.Select(e => new RejectedEvent(e.Index, e.Id, e.Reason))]);
            }
            foreach (var e in errors)
            {
                outcomes[e.Index] = SegmentOutcome.Rejected;
            }
        }
        return new Result(outcomes, duplicates);
    }

    private async Task<IngestResponse> IngestEnvelopesAsync(List<JsonObject> envelopes, string[] raws, string format, string producer, bool replay)
    {
        using var document = JsonDocument.Parse(new JsonArray([.. envelopes.Select(e => e.DeepClone())]).ToJsonString());
        var elements = document.RootElement.EnumerateArray().ToList();
        return await ingestor.IngestAsync(elements, new IngestOrigin(producer, format, raws, replay));
    }

    /// <summary>
    /// Ties the message's user to the account, by <c>userId</c> and by <c>anonymousId</c> both (events
    /// sent before login are held under the anonymous id), and takes the events held for either.
    /// </summary>
    private async Task TieAllAsync(JsonElement m, string account, List<(string, string[], string)> released, Dictionary<string, string> tied)
    {
        foreach (var userKey in new[] { Str(m, "userId"), Str(m, "anonymousId") is { } anon ? "anon:" + anon : null, Str(m, "previousId") })
        {
            if (userKey is null)
            {
                continue;
            }
            if (_accountOfUser.Count > MaxCachedUsers)
            {
                _accountOfUser.Clear();
            }
            _accountOfUser[userKey] = (account, time.GetUtcNow() + CacheFor);
            tied[userKey] = account;
            var envelopes = await grains.GetGrain<ISegmentUserGrain>(userKey).SetAccountAsync(account);
            if (envelopes.Length > 0)
            {
                released.Add((userKey, envelopes, account));
            }
        }
    }

    private async Task<string?> KnownAccountAsync(string userKey)
    {
        if (_accountOfUser.TryGetValue(userKey, out var known) && known.Until > time.GetUtcNow())
        {
            return known.Account;
        }
        var account = await grains.GetGrain<ISegmentUserGrain>(userKey).AccountAsync();
        if (account is not null)
        {
            _accountOfUser[userKey] = (account, time.GetUtcNow() + CacheFor);
        }
        return account;
    }

    private string? AccountOf(JsonElement m) =>
        (m.TryGetProperty("context", out var c) && c.ValueKind == JsonValueKind.Object ? Str(c, "groupId") : null)
        ?? (m.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? Str(p, options.Value.AccountProperty) : null);

    private string? CatalogTypeOf(string name)
    {
        var catalog = catalogs.Catalog;
        if (options.Value.EventTypes.TryGetValue(name, out var mapped))
        {
            return catalog.Find(mapped) is null ? null : mapped;
        }
        var snake = SnakeCase(name);
        return catalog.Find(snake) is null ? null : snake;
    }

    /// <summary>"Report Exported", "reportExported" and "report-exported" -> "report_exported"; "NPS Response" -> "nps_response".</summary>
    public static string SnakeCase(string name)
    {
        var b = new StringBuilder(name.Length + 8);
        var trimmed = name.Trim();
        for (var i = 0; i < trimmed.Length; i++)
        {
            var ch = trimmed[i];
            // A camelCase boundary ("reportExported"), not every capital ("NPS Response").
            if (char.IsUpper(ch) && i > 0 && (char.IsLower(trimmed[i - 1]) || char.IsDigit(trimmed[i - 1])))
            {
                b.Append('_');
            }
            b.Append(char.IsLetterOrDigit(ch) ? char.ToLowerInvariant(ch) : '_');
        }
        var s = b.ToString();
        while (s.Contains("__", StringComparison.Ordinal))
        {
            s = s.Replace("__", "_", StringComparison.Ordinal);
        }
        return s.Trim('_');
    }

    private static JsonObject Envelope(string id, string? account, string type, DateTimeOffset at, JsonElement m, JsonObject properties)
    {
        var envelope = new JsonObject
        {
            ["id"] = id,
            ["account"] = account,
            ["type"] = type,
            ["timestamp"] = at.ToString("O", CultureInfo.InvariantCulture),
            ["user"] = Str(m, "userId") ?? Str(m, "anonymousId"),
            ["source"] = Library(m) ?? "segment",
            ["properties"] = properties,
        };
        if (m.TryGetProperty("context", out var c) && c.ValueKind == JsonValueKind.Object && Str(c, "userAgent") is { } agent)
        {
            envelope["userAgent"] = agent;
        }
        return envelope;
    }

    private JsonObject Properties(JsonElement m)
    {
        var result = new JsonObject();
        if (m.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in p.EnumerateObject())
            {
                if (property.Name != options.Value.AccountProperty)
                {
                    result[property.Name] = JsonNode.Parse(property.Value.GetRawText());
                }
            }
        }
        return result;
    }

    /// <summary>Group traits the account_updated type knows, under its names.</summary>
    private static JsonObject Traits(JsonElement m, string name)
    {
        var result = new JsonObject();
        if (!m.TryGetProperty(name, out var t) || t.ValueKind != JsonValueKind.Object)
        {
            return result;
        }
        foreach (var (trait, property) in new[]
        {
            ("name", "name"), ("plan", "plan"), ("segment", "segment"), ("tier", "tier"),
            ("csmOwner", "csmOwner"), ("csm", "csmOwner"), ("owner", "csmOwner"), ("seats", "seats"), ("renewalDate", "renewalDate"),
        })
        {
            if (t.TryGetProperty(trait, out var value) && value.ValueKind != JsonValueKind.Null && !result.ContainsKey(property))
            {
                result[property] = JsonNode.Parse(value.GetRawText());
            }
        }
        return result;
    }

    private static bool Timestamp(JsonElement m, DateTimeOffset? batchSentAt, DateTimeOffset now, out DateTimeOffset at, out string? error)
    {
        error = null;
        at = now;
        var timestamp = Date(m, "timestamp") ?? Date(m, "originalTimestamp");
        if (timestamp is null && m.TryGetProperty("timestamp", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            error = $"timestamp: expected an ISO 8601 date-time, got {t.GetRawText()}";
            return false;
        }
        var sentAt = Date(m, "sentAt") ?? batchSentAt;
        if (timestamp is { } ts)
        {
            // Segment's clock-skew correction: the client's clock is off by (sentAt - receivedAt).
            at = sentAt is { } sent ? now - (sent - ts) : ts;
        }
        return true;
    }

    private static DateTimeOffset? Date(JsonElement m, string name) =>
        m.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
        && DateTimeOffset.TryParse(v.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var d)
            ? d.ToUniversalTime()
            : null;

    private static string? UserKey(JsonElement m) =>
        Str(m, "userId") is { } user ? user : Str(m, "anonymousId") is { } anon ? "anon:" + anon : null;

    private static string? Library(JsonElement m) =>
        m.TryGetProperty("context", out var c) && c.ValueKind == JsonValueKind.Object
        && c.TryGetProperty("library", out var l) && l.ValueKind == JsonValueKind.Object ? Str(l, "name") : null;

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 and <= EventValidator.MaxIdLength } s ? s
        : e.TryGetProperty(name, out var n) && n.ValueKind == JsonValueKind.Number ? n.GetRawText()
        : null;

    private static string Show(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) ? (v.GetRawText() is { Length: > 60 } long_ ? long_[..60] + "..." : v.GetRawText()) : "nothing";

    private static string Cut(string raw) => raw.Length > QuarantinedEvent.MaxRawChars ? raw[..QuarantinedEvent.MaxRawChars] : raw;
}
