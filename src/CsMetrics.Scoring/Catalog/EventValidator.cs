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
        var envelope = Envelope.Read(e);
        if (!Identifier(envelope.Id, "id", out var id, out error) || !Identifier(envelope.Account, "account", out var account, out error))
        {
            return false;
        }
        var typeElement = envelope.Type;
        if (typeElement.ValueKind != JsonValueKind.String || typeElement.GetString() is not { Length: > 0 } type)
        {
            error = $"type: expected an event type name (see GET /v1/catalog), got {Got(typeElement)}";
            return false;
        }
        int? version = null;
        var versionElement = envelope.Version;
        if (versionElement.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
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
        if (!Timestamp(envelope.Timestamp, now, out var timestamp, out error))
        {
            return false;
        }
        if (!OptionalString(envelope.User, "user", out var user, out error) || !OptionalString(envelope.UserAgent, "userAgent", out var userAgent, out error)
            || !OptionalString(envelope.Source, "source", out var source, out error))
        {
            return false;
        }
        var actor = Actor.User;
        var actorElement = envelope.Actor;
        if (actorElement.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null))
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
        if (!Properties(envelope.Properties, schema, out var properties, out error))
        {
            // An event that names no version may follow any version of its type: publishing a new
            // version never breaks the producers still sending the old one.
            var fallback = version is null ? OlderVersionThatFits(envelope.Properties, type, schema.Version) : null;
            if (fallback is null)
            {
                return false;
            }
            (schema, properties, error) = fallback.Value;
        }
        result = new HealthEvent(id!, account!, type, schema.FamilyValue, timestamp, user, actor, properties!, source);
        return true;
    }

    private (EventTypeSchema, IReadOnlyDictionary<string, string>?, string?)? OlderVersionThatFits(JsonElement props, string type, int latest)
    {
        foreach (var older in catalog.Types.Where(t => t.Type == type && t.Version < latest).OrderByDescending(t => t.Version))
        {
            if (Properties(props, older, out var properties, out _))
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

    private static bool Identifier(JsonElement el, string name, out string? value, out string? error)
    {
        value = null;
        error = null;
        if (el.ValueKind == JsonValueKind.String && el.GetString() is { Length: > 0 and <= MaxIdLength } s
            && !s.Any(char.IsControl) && s.Trim().Length == s.Length)
        {
            value = s;
            return true;
        }
        error = $"{name}: expected a non-empty string of at most {MaxIdLength} characters with no control characters or surrounding spaces, got {Got(el)}";
        return false;
    }

    private static bool OptionalString(JsonElement el, string name, out string? value, out string? error)
    {
        value = null;
        error = null;
        if (el.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null)
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

    private bool Timestamp(JsonElement el, DateTimeOffset now, out DateTimeOffset timestamp, out string? error)
    {
        timestamp = default;
        error = null;
        if (el.ValueKind != JsonValueKind.String || !TryParseInstant(el, out timestamp))
        {
            error = $"timestamp: expected an ISO 8601 date-time with a time zone, e.g. 2026-11-23T10:15:00Z, got {Got(el)}";
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

    private static bool Properties(JsonElement props, EventTypeSchema schema, out IReadOnlyDictionary<string, string>? properties, out string? error)
    {
        properties = null;
        error = null;
        var hasObject = props.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null);
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

    /// <summary>A field's value as <see cref="Show"/> gives it, or "nothing" when the envelope has no such field.</summary>
    private static string Got(JsonElement el) => el.ValueKind == JsonValueKind.Undefined ? "nothing" : Show(el);

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();

    /// <summary>The offending value as JSON, cut short so a 1 MB string does not come back in the error.</summary>
    private static string Show(JsonElement e)
    {
        var raw = e.GetRawText();
        return raw.Length <= 40 ? raw : raw[..37] + "...";
    }

    /// <summary>
    /// The envelope's fields, found in one pass over its properties: a lookup per field scanned the
    /// object and transcoded the field's name each time (7 % of a storage-off node's CPU). A field
    /// the envelope does not have is <see cref="JsonValueKind.Undefined"/>; of a repeated name the
    /// last counts, as with <see cref="JsonElement.TryGetProperty(string, out JsonElement)"/> (ingest
    /// refuses bodies with repeated names before this).
    /// </summary>
    private struct Envelope
    {
        public JsonElement Id, Account, Type, Version, Timestamp, User, UserAgent, Source, Actor, Properties;

        public static Envelope Read(JsonElement e)
        {
            var envelope = default(Envelope);
            foreach (var property in e.EnumerateObject())
            {
                var raw = System.Runtime.InteropServices.JsonMarshal.GetRawUtf8PropertyName(property);
                // An escaped name ("\u0069d") is compared unescaped: rare, so it may allocate.
                envelope.Set(raw.Contains((byte)'\\') ? System.Text.Encoding.UTF8.GetBytes(property.Name) : raw, property.Value);
            }
            return envelope;
        }

        private void Set(ReadOnlySpan<byte> name, JsonElement value)
        {
            switch (name.Length)
            {
                case 2 when name.SequenceEqual("id"u8): Id = value; break;
                case 4 when name.SequenceEqual("type"u8): Type = value; break;
                case 4 when name.SequenceEqual("user"u8): User = value; break;
                case 5 when name.SequenceEqual("actor"u8): Actor = value; break;
                case 6 when name.SequenceEqual("source"u8): Source = value; break;
                case 7 when name.SequenceEqual("account"u8): Account = value; break;
                case 7 when name.SequenceEqual("version"u8): Version = value; break;
                case 9 when name.SequenceEqual("timestamp"u8): Timestamp = value; break;
                case 9 when name.SequenceEqual("userAgent"u8): UserAgent = value; break;
                case 10 when name.SequenceEqual("properties"u8): Properties = value; break;
            }
        }
    }
}
