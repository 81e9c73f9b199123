using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using CsMetrics.Scoring.Events;

namespace CsMetrics.Scoring.Catalog;

/// <summary>
/// The schema registry: every event type CsMetrics accepts, with its family, version and typed
/// properties. The built-in types ship in Defaults/event-catalog.json; teams add their own in a file.
/// </summary>
public sealed partial class EventCatalog
{
    public int Version { get; init; }
    public required IReadOnlyList<EventTypeSchema> Types { get; init; }

    private Dictionary<string, EventTypeSchema>? _latest;

    /// <summary>The newest version of each type.</summary>
    [JsonIgnore]
    public IReadOnlyDictionary<string, EventTypeSchema> Latest => _latest ??= Types
        .GroupBy(t => t.Type, StringComparer.Ordinal)
        .ToDictionary(g => g.Key, g => g.MaxBy(t => t.Version)!, StringComparer.Ordinal);

    public EventTypeSchema? Find(string type, int? version = null) =>
        version is { } v ? FindVersion(type, v) : Latest.GetValueOrDefault(type);

    // A loop, not a lambda: Find runs for every event, and a lambda's closure is allocated on entry.
    private EventTypeSchema? FindVersion(string type, int version)
    {
        for (var i = 0; i < Types.Count; i++)
        {
            if (Types[i].Type == type && Types[i].Version == version)
            {
                return Types[i];
            }
        }
        return null;
    }

    public static EventCatalog Default { get; } = LoadEmbedded();

    public static EventCatalog LoadEmbedded()
    {
        using var stream = ValidatedJson.Embedded("CsMetrics.Scoring.event-catalog.json");
        return Parse(stream, "embedded event-catalog.json");
    }

    public static EventCatalog Parse(Stream json, string source) =>
        ValidatedJson.Parse(json, source, CatalogJsonContext.Default.EventCatalog, static c => c.Validate(), static (s, e) => new CatalogValidationException(s, e));

    /// <summary>This catalog plus a team's own types; a type already here may only gain a higher version.</summary>
    public EventCatalog Extend(EventCatalog extension, string source)
    {
        var errors = new List<string>();
        for (var i = 0; i < extension.Types.Count; i++)
        {
            var t = extension.Types[i];
            if (Types.Any(existing => existing.Type == t.Type && existing.Version >= t.Version))
            {
                errors.Add($"types[{i}].version: type \"{t.Type}\" already has version {Latest[t.Type].Version}; a change needs a higher version, got {t.Version}");
            }
        }
        if (errors.Count > 0)
        {
            throw new CatalogValidationException(source, errors);
        }
        return new EventCatalog { Version = Version, Types = [.. Types, .. extension.Types] };
    }

    /// <summary>
    /// This catalog with one type version added or changed, by the schema registry's rules: a new
    /// type, or a version above the type's latest, may be anything; a version that exists may only
    /// change compatibly (same family, no required property removed, retyped or added), since
    /// producers are sending it now; anything else is refused with the reason.
    /// </summary>
    public EventCatalog With(EventTypeSchema schema, out string? error)
    {
        error = null;
        if (new EventCatalog { Version = Version, Types = [schema] }.Validate() is { Count: > 0 } own)
        {
            error = string.Join("; ", own);
            return this;
        }
        var existing = Find(schema.Type, schema.Version);
        var latest = Find(schema.Type);
        if (existing is null && latest is not null && schema.Version < latest.Version)
        {
            error = $"version: type \"{schema.Type}\" is at version {latest.Version}; change it compatibly as {latest.Version}, or publish {latest.Version + 1}, got {schema.Version}";
            return this;
        }
        if (existing is not null && Incompatible(existing, schema) is { } breaking)
        {
            error = $"{breaking}: that breaks producers sending version {schema.Version}; publish it as version {latest!.Version + 1}";
            return this;
        }
        var result = new EventCatalog
        {
            Version = Version,
            Types = [.. Types.Where(t => !(t.Type == schema.Type && t.Version == schema.Version)), schema],
        };
        if (result.Validate() is { Count: > 0 } errors)
        {
            error = string.Join("; ", errors);
            return this;
        }
        return result;
    }

    /// <summary>Why <paramref name="next"/> cannot replace <paramref name="current"/> in place, or null.</summary>
    public static string? Incompatible(EventTypeSchema current, EventTypeSchema next)
    {
        if (!string.Equals(current.Family, next.Family, StringComparison.OrdinalIgnoreCase))
        {
            return $"family: changing \"{current.Family}\" to \"{next.Family}\"";
        }
        foreach (var (name, p) in current.Properties.Where(p => p.Value.Required))
        {
            if (!next.Properties.TryGetValue(name, out var n))
            {
                return $"properties.{name}: removing a required property";
            }
            if (n.Type != p.Type)
            {
                return $"properties.{name}: retyping a required property from {p.Type} to {n.Type}";
            }
        }
        foreach (var (name, n) in next.Properties.Where(p => p.Value.Required))
        {
            if (!current.Properties.TryGetValue(name, out var p) || !p.Required)
            {
                return $"properties.{name}: adding a required property";
            }
        }
        // Narrowing what a property accepts refuses events that passed before.
        foreach (var (name, p) in current.Properties)
        {
            if (!next.Properties.TryGetValue(name, out var n))
            {
                continue; // an optional property dropped: its values are ignored from now on, nothing is refused
            }
            if (n.Type != p.Type)
            {
                return $"properties.{name}: retyping a property from {p.Type} to {n.Type}";
            }
            if (p.Values is { } values && n.Values is { } allowed && values.Except(allowed).Any())
            {
                return $"properties.{name}: removing allowed values";
            }
            if ((n.Min ?? double.MinValue) > (p.Min ?? double.MinValue) || (n.Max ?? double.MaxValue) < (p.Max ?? double.MaxValue)
                || (n.MaxLength ?? int.MaxValue) < (p.MaxLength ?? int.MaxValue))
            {
                return $"properties.{name}: narrowing its allowed range or length";
            }
        }
        return null;
    }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        for (var i = 0; i < Types.Count; i++)
        {
            var t = Types[i];
            var path = $"types[{i}]";
            if (t.Family is null || t.Properties is null)
            {
                errors.Add($"{path}: expected a type with a family and properties");
                continue;
            }
            if (t.Type is null || !TypeName().IsMatch(t.Type))
            {
                errors.Add($"{path}.type: expected a lower-case name of letters, digits and '_' (at most 64), got \"{t.Type}\"");
            }
            if (t.Version < 1)
            {
                errors.Add($"{path}.version: expected an integer >= 1, got {t.Version}");
            }
            if (!Enum.TryParse<EventFamily>(t.Family, ignoreCase: true, out _))
            {
                errors.Add($"{path}.family: expected one of usage, support, sentiment, outcomes, billing, account, got \"{t.Family}\"");
            }
            foreach (var (name, p) in t.Properties)
            {
                var ppath = $"{path}.properties.{name}";
                if (p is null)
                {
                    errors.Add($"{ppath}: expected a property definition, got null");
                    continue;
                }
                if (!PropertySchema.KnownTypes.Contains(p.Type))
                {
                    errors.Add($"{ppath}.type: expected one of {string.Join(", ", PropertySchema.KnownTypes)}, got \"{p.Type}\"");
                }
                if (p.Type == "enum" && (p.Values is null || p.Values.Count == 0))
                {
                    errors.Add($"{ppath}.values: an enum needs at least one value");
                }
                if (p.Min is { } min && p.Max is { } max && min > max)
                {
                    errors.Add($"{ppath}.min: expected at most max ({max}), got {min}");
                }
            }
        }
        foreach (var dup in Types.GroupBy(t => (t.Type, t.Version)).Where(g => g.Count() > 1))
        {
            errors.Add($"types: \"{dup.Key.Type}\" version {dup.Key.Version} is defined {dup.Count()} times");
        }
        return errors;
    }

    public string ToJson() => JsonSerializer.Serialize(this, CatalogJsonContext.Default.EventCatalog);

    [GeneratedRegex("^[a-z][a-z0-9_]{0,63}$")]
    private static partial Regex TypeName();
}

public sealed class EventTypeSchema
{
    /// <summary>One type version from JSON (the registry's admin API and storage); throws <see cref="JsonException"/> naming what is wrong.</summary>
    public static EventTypeSchema Parse(string json) =>
        JsonSerializer.Deserialize(json, CatalogJsonContext.Default.EventTypeSchema) ?? throw new JsonException("$: expected an event type object, got null");

    public string ToJson() => JsonSerializer.Serialize(this, CatalogJsonContext.Default.EventTypeSchema);

    public required string Type { get; init; }
    public required string Family { get; init; }
    public int Version { get; init; } = 1;
    public string? Description { get; init; }
    private readonly IReadOnlyDictionary<string, PropertySchema> _properties = new Dictionary<string, PropertySchema>();
    private KeyValuePair<string, PropertySchema>[]? _propertyList;
    private EventFamily? _family;

    /// <summary>Typed properties by name; a type with none may leave the field out.</summary>
    public IReadOnlyDictionary<string, PropertySchema> Properties
    {
        get => _properties;
        init => _properties = value ?? new Dictionary<string, PropertySchema>();
    }

    /// <summary>The same properties as an array, for the validator's loop over every event (no enumerator allocated).</summary>
    internal KeyValuePair<string, PropertySchema>[] PropertyList => _propertyList ??= [.. _properties];

    [JsonIgnore]
    public EventFamily FamilyValue => _family ??= Enum.Parse<EventFamily>(Family, ignoreCase: true);
}

public sealed class PropertySchema
{
    public static readonly IReadOnlyList<string> KnownTypes = ["string", "integer", "number", "boolean", "date", "enum"];

    public required string Type { get; init; }
    public bool Required { get; init; }
    public double? Min { get; init; }
    public double? Max { get; init; }
    public IReadOnlyList<string>? Values { get; init; }
    public int? MaxLength { get; init; }
    public string? Description { get; init; }
}

public sealed class CatalogValidationException(string source, IReadOnlyList<string> errors)
    : Exception($"{source} is not a valid event catalog: " + string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    WriteIndented = true,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(EventCatalog))]
[JsonSerializable(typeof(EventTypeSchema))]
internal sealed partial class CatalogJsonContext : JsonSerializerContext;
