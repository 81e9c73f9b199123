using System.Globalization;
using System.Text.Json;
using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.Model;

namespace CsMetrics.Scoring.Catalog;

/// <summary>
/// Turns one JSON envelope into a <see cref="HealthEvent"/>, or a reason a person can act on
/// that names the field, what was expected and what came
/// (<c>properties.score: expected integer 0..10, got "ten"</c>).
/// </summary>
public sealed class EventValidator(EventCatalog catalog, ScoringModel model)
{
    public const int MaxIdLength = 128;
    public const int MaxStringLength = 1024;

    public EventCatalog Catalog => catalog;

    public bool TryValidate(JsonElement e, DateTimeOffset now, out HealthEvent? result, out string? error)
    {
        try
        {
            return TryValidateCore(e, now, out result, out error);
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json refuses to decode strings such as a lone "\uD800" escape.
            result = null;
            error = "$: a string in this event is not valid Unicode text (e.g. an unpaired \\uD800 escape)";
            return false;
        }
    }

    private bool TryValidateCore(JsonElement e, DateTimeOffset now, out HealthEvent? result, out string? error)
    {
        result = null;
        if (e.ValueKind != JsonValueKind.Object)
        {
            error = $"$: expected an event object, got {Kind(e)}";
            return false;
        }
        if (!Identifier(e, "id", out var id, out error) || !Identifier(e, "account", out var account, out error))
        {
            return false;
        }
        if (!e.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String || typeElement.GetString() is not { Length: > 0 } type)
        {
            error = $"type: expected an event type name (see GET /v1/catalog), got {Got(e, "type")}";
            return false;
        }
        int? version = null;
        if (e.TryGetProperty("version", out var versionElement) && versionElement.ValueKind != JsonValueKind.Null)
        {
            if (versionElement.ValueKind != JsonValueKind.Number || !versionElement.TryGetInt32(out var v) || v < 1)
            {
                error = $"version: expected a schema version (integer >= 1), got {Show(versionElement)}";
                return false;
            }
            version = v;
        }
        var schema = catalog.Find(type, version);
        if (schema is null)
        {
            error = catalog.Find(type) is { } latest
                ? $"version: type \"{type}\" has no version {version} (latest is {latest.Version})"
                : $"type: unknown event type {Show(typeElement)} (see GET /v1/catalog)";
            return false;
        }
        if (!Timestamp(e, now, out var timestamp, out error))
        {
            return false;
        }
        if (!OptionalString(e, "user", out var user, out error) || !OptionalString(e, "userAgent", out var userAgent, out error)
            || !OptionalString(e, "source", out var source, out error))
        {
            return false;
        }
        var actor = Actor.User;
        if (e.TryGetProperty("actor", out var actorElement) && actorElement.ValueKind != JsonValueKind.Null)
        {
            switch (actorElement.ValueKind == JsonValueKind.String ? actorElement.GetString() : null)
            {
                case "user": actor = Actor.User; break;
                case "bot": actor = Actor.Bot; break;
                case "system": actor = Actor.System; break;
                default:
                    error = $"actor: expected one of user, bot, system, got {Show(actorElement)}";
                    return false;
            }
        }
        if (actor == Actor.User && userAgent is not null && IsBotAgent(userAgent))
        {
            actor = Actor.Bot;
        }
        if (!Properties(e, schema, out var properties, out error))
        {
            // An event that names no version may follow any version of its type: publishing a new
            // version never breaks the producers still sending the old one.
            var fallback = version is null ? OlderVersionThatFits(e, type, schema.Version) : null;
            if (fallback is null)
            {
                return false;
            }
            (schema, properties, error) = fallback.Value;
        }
        result = new HealthEvent(id!, account!, type, schema.FamilyValue, timestamp, user, actor, properties!, source);
        return true;
    }

    private (EventTypeSchema, IReadOnlyDictionary<string, string>?, string?)? OlderVersionThatFits(JsonElement e, string type, int latest)
    {
        foreach (var older in catalog.Types.Where(t => t.Type == type && t.Version < latest).OrderByDescending(t => t.Version))
        {
            if (Properties(e, older, out var properties, out _))
            {
                return (older, properties, null);
            }
        }
        return null;
    }

    private bool IsBotAgent(string userAgent)
    {
        foreach (var marker in model.Ingest.BotUserAgents)
        {
            if (userAgent.Contains(marker, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }
        return false;
    }

    private static bool Identifier(JsonElement e, string name, out string? value, out string? error)
    {
        value = null;
        error = null;
        if (e.TryGetProperty(name, out var el) && el.ValueKind == JsonValueKind.String && el.GetString() is { Length: > 0 and <= MaxIdLength } s
            && !s.Any(char.IsControl) && s.Trim().Length == s.Length)
        {
            value = s;
            return true;
        }
        error = $"{name}: expected a non-empty string of at most {MaxIdLength} characters with no control characters or surrounding spaces, got {Got(e, name)}";
        return false;
    }

    private static bool OptionalString(JsonElement e, string name, out string? value, out string? error)
    {
        value = null;
        error = null;
        if (!e.TryGetProperty(name, out var el) || el.ValueKind == JsonValueKind.Null)
        {
            return true;
        }
        if (el.ValueKind == JsonValueKind.String && el.GetString() is { Length: <= MaxIdLength } s)
        {
            value = s.Length == 0 ? null : s;
            return true;
        }
        error = $"{name}: expected a string of at most {MaxIdLength} characters, got {Show(el)}";
        return false;
    }

    private bool Timestamp(JsonElement e, DateTimeOffset now, out DateTimeOffset timestamp, out string? error)
    {
        timestamp = default;
        error = null;
        if (!e.TryGetProperty("timestamp", out var el) || el.ValueKind != JsonValueKind.String
            || !TryParseInstant(el, out timestamp))
        {
            error = $"timestamp: expected an ISO 8601 date-time with a time zone, e.g. 2026-11-23T10:15:00Z, got {Got(e, "timestamp")}";
            return false;
        }
        var skew = TimeSpan.FromMinutes(model.Ingest.ClockSkewMinutes);
        if (timestamp > now + skew)
        {
            error = $"timestamp: {timestamp:yyyy-MM-ddTHH:mm:ssZ} is more than {model.Ingest.ClockSkewMinutes} minutes ahead of the server clock ({now:yyyy-MM-ddTHH:mm:ssZ})";
            return false;
        }
        return true;
    }

    /// <summary>
    /// <see cref="TryParseInstant(string, out DateTimeOffset)"/> of a JSON string, read from its UTF-8
    /// bytes when it plainly ends in a zone (what producers send) so no string is made for it; any
    /// other form goes through the general parser.
    /// </summary>
    private static bool TryParseInstant(JsonElement element, out DateTimeOffset value)
    {
        var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(element);
        var text = raw.Length >= 2 ? raw[1..^1] : raw; // without its quotes
        if (text.Length >= 11 && !text.Contains((byte)'\\') && (text[^1] is (byte)'Z' || text[^6] is (byte)'+' or (byte)'-')
            && element.TryGetDateTimeOffset(out var parsed))
        {
            value = parsed.ToUniversalTime();
            return true;
        }
        return TryParseInstant(element.GetString()!, out value);
    }

    /// <summary>An instant must carry its offset: "2026-11-23T10:15:00" alone is ambiguous and rejected.</summary>
    internal static bool TryParseInstant(string text, out DateTimeOffset value)
    {
        value = default;
        if (text.Length < 11 || !(text.EndsWith('Z') || text.EndsWith('z') || text[^6] is '+' or '-'))
        {
            return false;
        }
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            return false;
        }
        value = parsed.ToUniversalTime();
        return true;
    }

    private static bool Properties(JsonElement e, EventTypeSchema schema, out IReadOnlyDictionary<string, string>? properties, out string? error)
    {
        properties = null;
        error = null;
        var hasObject = e.TryGetProperty("properties", out var props) && props.ValueKind != JsonValueKind.Null;
        if (hasObject && props.ValueKind != JsonValueKind.Object)
        {
            error = $"properties: expected an object, got {Show(props)}";
            return false;
        }
        if (schema.Properties.Count == 0)
        {
            properties = HealthEvent.NoProperties;
            return true;
        }
        var values = new Dictionary<string, string>(schema.Properties.Count, StringComparer.Ordinal);
        foreach (var (name, p) in schema.PropertyList)
        {
            if (!hasObject || !props.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                if (p.Required)
                {
                    error = $"properties.{name}: required {Expected(p)} is missing";
                    return false;
                }
                continue;
            }
            if (!Normalise(value, p, out var normalised))
            {
                error = $"properties.{name}: expected {Expected(p)}, got {Show(value)}";
                return false;
            }
            values[name] = normalised!;
        }
        properties = values;
        return true;
    }

    private static bool Normalise(JsonElement value, PropertySchema p, out string? normalised)
    {
        normalised = null;
        switch (p.Type)
        {
            case "string":
                if (value.ValueKind == JsonValueKind.String && value.GetString() is { } s && s.Length <= (p.MaxLength ?? MaxStringLength) && s.Length > 0)
                {
                    normalised = s;
                    return true;
                }
                return false;
            case "enum":
                if (value.ValueKind == JsonValueKind.String && value.GetString() is { } v && p.Values!.Contains(v))
                {
                    normalised = v;
                    return true;
                }
                return false;
            case "boolean":
                if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    normalised = value.ValueKind == JsonValueKind.True ? "true" : "false";
                    return true;
                }
                return false;
            case "integer":
                if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var i) && InRange(i, p))
                {
                    normalised = i.ToString(CultureInfo.InvariantCulture);
                    return true;
                }
                return false;
            case "number":
                if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var d) && double.IsFinite(d) && InRange(d, p))
                {
                    normalised = d.ToString("R", CultureInfo.InvariantCulture);
                    return true;
                }
                return false;
            case "date":
                if (value.ValueKind == JsonValueKind.String && value.GetString() is { } text)
                {
                    if (TryParseInstant(text, out var instant))
                    {
                        normalised = instant.ToString("O", CultureInfo.InvariantCulture);
                        return true;
                    }
                    if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date))
                    {
                        normalised = new DateTimeOffset(date, TimeOnly.MinValue, TimeSpan.Zero).ToString("O", CultureInfo.InvariantCulture);
                        return true;
                    }
                }
                return false;
            default:
                return false;
        }
    }

    private static bool InRange(double value, PropertySchema p) => (p.Min is not { } min || value >= min) && (p.Max is not { } max || value <= max);

    private static string Expected(PropertySchema p) => p.Type switch
    {
        "integer" or "number" => (p.Min, p.Max) switch
        {
            ({ } min, { } max) => $"{p.Type} {min.ToString(CultureInfo.InvariantCulture)}..{max.ToString(CultureInfo.InvariantCulture)}",
            ({ } min, null) => $"{p.Type} >= {min.ToString(CultureInfo.InvariantCulture)}",
            (null, { } max) => $"{p.Type} <= {max.ToString(CultureInfo.InvariantCulture)}",
            _ => p.Type,
        },
        "enum" => $"one of {string.Join(", ", p.Values!)}",
        "date" => "date (YYYY-MM-DD or ISO 8601 date-time with time zone)",
        "string" => $"non-empty string of at most {p.MaxLength ?? MaxStringLength} characters",
        _ => p.Type,
    };

    private static string Got(JsonElement e, string name) =>
        e.TryGetProperty(name, out var el) ? Show(el) : "nothing";

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();

    /// <summary>The offending value as JSON, cut short so a 1 MB string does not come back in the error.</summary>
    private static string Show(JsonElement e)
    {
        var raw = e.GetRawText();
        return raw.Length <= 40 ? raw : raw[..37] + "...";
    }
}
