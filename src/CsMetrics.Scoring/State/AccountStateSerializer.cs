using System.Text.Json;
using System.Text.Json.Serialization;

namespace CsMetrics.Scoring.State;

/// <summary>
/// The persisted form of <see cref="AccountState"/>: UTF-8 JSON, versioned by
/// <see cref="AccountState.SchemaVersion"/>, Brotli-compressed (quality 1) behind a one-byte marker
/// once it is past <see cref="CompressAbove"/> bytes: checkpoints are most of what storage writes,
/// and the JSON text halves (1,771 to 883 bytes for a month of a healthy account; the hashed event
/// ids kept for de-duplication are random and do not shrink). Plain JSON snapshots (written before
/// compression, or small) still read. Storage providers hold these bytes opaquely.
/// </summary>
public static class AccountStateSerializer
{
    /// <summary>Snapshots of at most this many JSON bytes stay plain (compressing them saves too little).</summary>
    public const int CompressAbove = 512;

    public static byte[] Serialize(AccountState state)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(state, StateJsonContext.Default.AccountState);
        return json.Length <= CompressAbove ? json : CompressedFrame.Pack(json);
    }

    /// <summary>Reads a snapshot of this or an older schema (older ones are upgraded as they are read).</summary>
    public static AccountState Deserialize(ReadOnlySpan<byte> snapshot)
    {
        if (snapshot.IsEmpty)
        {
            return new AccountState();
        }
        var json = CompressedFrame.IsPacked(snapshot) ? Decompress(snapshot) : snapshot;
        var state = JsonSerializer.Deserialize(json, StateJsonContext.Default.AccountState)
            ?? throw new JsonException("An account snapshot decoded to null.");
        if (state.SchemaVersion > AccountState.CurrentSchemaVersion)
        {
            throw new JsonException($"schemaVersion: this node reads account snapshots up to version {AccountState.CurrentSchemaVersion}, got {state.SchemaVersion}; run the newer CsMetrics that wrote it");
        }
        state.SchemaVersion = AccountState.CurrentSchemaVersion;
        return state;
    }

    private static byte[] Decompress(ReadOnlySpan<byte> packed)
    {
        try
        {
            return CompressedFrame.Unpack(packed, maxBytes: 64 * 1024 * 1024);
        }
        catch (InvalidDataException e)
        {
            throw new JsonException($"An account snapshot is corrupt: {e.Message}.", e);
        }
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(AccountState))]
internal sealed partial class StateJsonContext : JsonSerializerContext;
