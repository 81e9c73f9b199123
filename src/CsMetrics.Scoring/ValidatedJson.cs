using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace CsMetrics.Scoring;

/// <summary>Reads a versioned JSON file (the scoring model, the event catalog) and validates it as a whole.</summary>
internal static class ValidatedJson
{
    public static Stream Embedded(string name) =>
        typeof(ValidatedJson).Assembly.GetManifestResourceStream(name)
        ?? throw new InvalidOperationException($"The embedded file {name} is missing from the assembly.");

    /// <summary>Deserializes and validates; <paramref name="fail"/> builds the exception that lists every error.</summary>
    public static T Parse<T>(Stream json, string source, JsonTypeInfo<T> typeInfo, Func<T, IReadOnlyList<string>> validate, Func<string, IReadOnlyList<string>, Exception> fail)
        where T : class
    {
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(json, typeInfo);
        }
        catch (JsonException e)
        {
            throw fail(source, [$"{e.Path ?? "$"}: {e.Message}"]);
        }
        if (value is null)
        {
            throw fail(source, ["$: the file is empty"]);
        }
        IReadOnlyList<string> errors;
        try
        {
            errors = validate(value);
        }
        catch (NullReferenceException)
        {
            // A section or list written as null ("keyFeatures": null) gets past deserialization.
            throw fail(source, ["$: a required section, list or map is null; give it a value or leave the default file's"]);
        }
        return errors.Count > 0 ? throw fail(source, errors) : value;
    }
}
