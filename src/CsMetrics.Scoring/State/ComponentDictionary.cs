using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Model;

namespace CsMetrics.Scoring.State;

/// <summary>
/// At most one number per score component: how much a change moved each component (its drivers),
/// or each component's contribution to the score. An immutable value of five doubles and a presence
/// mask rather than a dictionary: an account keeps its last 20 changes, and a dictionary per change
/// was the largest part of an account's memory. Reads as a dictionary keyed by component name, and
/// is stored as the same JSON object (<c>{"support": -7.0}</c>).
/// </summary>
[JsonConverter(typeof(ComponentDictionaryJsonConverter))]
public readonly struct ComponentDictionary : IReadOnlyDictionary<string, double>, IEquatable<ComponentDictionary>
{
    private const int Size = 5;
    private readonly Five _values;
    private readonly byte _present;

    private ComponentDictionary(Five values, byte present)
    {
        _values = values;
        _present = present;
    }

    public static ComponentDictionary Empty => default;

    public int Count => System.Numerics.BitOperations.PopCount(_present);

    public bool Has(Component component) => (_present & (1 << (int)component)) != 0;

    public double? Get(Component component) => Has(component) ? _values[(int)component] : null;

    public ComponentDictionary With(Component component, double value)
    {
        var values = _values;
        values[(int)component] = value;
        return new ComponentDictionary(values, (byte)(_present | (1 << (int)component)));
    }

    /// <summary>Each component <paramref name="other"/> holds, less its value there (a missing one counts as 0 here).</summary>
    public ComponentDictionary Minus(ComponentDictionary other)
    {
        var values = _values;
        for (var i = 0; i < Size; i++)
        {
            if (other.Has((Component)i))
            {
                values[i] = (Has((Component)i) ? values[i] : 0) - other._values[i];
            }
        }
        return new ComponentDictionary(values, (byte)(_present | other._present));
    }

    public ComponentDictionary Without(Component component) =>
        new(_values, (byte)(_present & ~(1 << (int)component)));

    public double this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException(key);

    public IEnumerable<string> Keys => this.Select(p => p.Key);

    public IEnumerable<double> Values => this.Select(p => p.Value);

    public bool ContainsKey(string key) => TryGetValue(key, out _);

    public bool TryGetValue(string key, [MaybeNullWhen(false)] out double value)
    {
        for (var i = 0; i < Size; i++)
        {
            if (Components.Name((Component)i) == key && Has((Component)i))
            {
                value = _values[i];
                return true;
            }
        }
        value = 0;
        return false;
    }

    public IEnumerator<KeyValuePair<string, double>> GetEnumerator()
    {
        for (var i = 0; i < Size; i++)
        {
            if (Has((Component)i))
            {
                yield return new(Components.Name((Component)i), _values[i]);
            }
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public bool Equals(ComponentDictionary other)
    {
        if (_present != other._present)
        {
            return false;
        }
        for (var i = 0; i < Size; i++)
        {
            if (Has((Component)i) && !_values[i].Equals(other._values[i]))
            {
                return false;
            }
        }
        return true;
    }

    public override bool Equals(object? obj) => obj is ComponentDictionary other && Equals(other);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (var (key, value) in this)
        {
            hash.Add(key);
            hash.Add(value);
        }
        return hash.ToHashCode();
    }

    public static bool operator ==(ComponentDictionary left, ComponentDictionary right) => left.Equals(right);

    public static bool operator !=(ComponentDictionary left, ComponentDictionary right) => !left.Equals(right);

    [InlineArray(Size)]
    private struct Five
    {
        private double _first;
    }
}

/// <summary>Reads and writes <see cref="ComponentDictionary"/> as a JSON object keyed by component name; unknown names are skipped.</summary>
public sealed class ComponentDictionaryJsonConverter : JsonConverter<ComponentDictionary>
{
    public override ComponentDictionary Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"expected an object of component values, got {reader.TokenType}");
        }
        var values = ComponentDictionary.Empty;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var component = Known(ref reader);
            reader.Read();
            var value = reader.GetDouble();
            if (component is { } c)
            {
                values = values.With(c, value);
            }
        }
        return values;
    }

    /// <summary>The component a property name names: the stored lowercase name without a string, any other spelling parsed.</summary>
    private static Component? Known(ref Utf8JsonReader reader)
    {
        for (var c = Component.Usage; c <= Component.Billing; c++)
        {
            if (reader.ValueTextEquals(Components.Name(c)))
            {
                return c;
            }
        }
        return Enum.TryParse<Component>(reader.GetString(), ignoreCase: true, out var component) && Enum.IsDefined(component) ? component : null;
    }

    public override void Write(Utf8JsonWriter writer, ComponentDictionary value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        // By component, not through the enumerator: a checkpoint writes some twenty of these per account.
        for (var c = Component.Usage; c <= Component.Billing; c++)
        {
            if (value.Get(c) is { } number)
            {
                writer.WriteNumber(Components.Name(c), number);
            }
        }
        writer.WriteEndObject();
    }
}
