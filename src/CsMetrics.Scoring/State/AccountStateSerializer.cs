using System.Text.Json;
using System.Text.Json.Serialization;

namespace CsMetrics.Scoring.State;

/// <summary>
/// The persisted form of <see cref="AccountState"/>: UTF-8 JSON, versioned by
/// <see cref="AccountState.SchemaVersion"/>. Storage providers hold these bytes opaquely.
/// </summary>
public static class AccountStateSerializer
{
    public static byte[] Serialize(AccountState state) =>
        JsonSerializer.SerializeToUtf8Bytes(state, StateJsonContext.Default.AccountState);

    /// <summary>Reads a snapshot of this or an older schema (older ones are upgraded as they are read).</summary>
    public static AccountState Deserialize(ReadOnlySpan<byte> snapshot)
    {
        if (snapshot.IsEmpty)
        {
            return new AccountState();
        }
        var state = JsonSerializer.Deserialize(snapshot, StateJsonContext.Default.AccountState)
            ?? throw new JsonException("An account snapshot decoded to null.");
        if (state.SchemaVersion > AccountState.CurrentSchemaVersion)
        {
            throw new JsonException($"schemaVersion: this node reads account snapshots up to version {AccountState.CurrentSchemaVersion}, got {state.SchemaVersion}; run the newer CsMetrics that wrote it");
        }
        state.SchemaVersion = AccountState.CurrentSchemaVersion;
        return state;
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(AccountState))]
internal sealed partial class StateJsonContext : JsonSerializerContext;
