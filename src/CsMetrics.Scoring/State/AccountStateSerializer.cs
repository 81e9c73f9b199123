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

    public static AccountState Deserialize(ReadOnlySpan<byte> snapshot) =>
        snapshot.IsEmpty
            ? new AccountState()
            : JsonSerializer.Deserialize(snapshot, StateJsonContext.Default.AccountState)
              ?? throw new JsonException("An account snapshot decoded to null.");
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(AccountState))]
internal sealed partial class StateJsonContext : JsonSerializerContext;
