using System.Text.Json;
using System.Text.Json.Serialization;

namespace CsMetrics.Scoring.State;

/// <summary>
/// The persisted form of <see cref="AccountState"/>. Since schema 3:
/// <code>
/// 0xB3 | varint n | n bytes: the state as UTF-8 JSON, Brotli-compressed (quality 1, <see cref="CompressedFrame"/>) past 512 bytes | the remembered event ids (<see cref="DedupState.WriteStored"/>)
/// </code>
/// The JSON text compresses to about half; the event ids are hashes that do not compress, so they
/// follow it as they are (about 10 bytes each) rather than as base64 in the JSON, which Brotli spent
/// a third of a checkpoint's encoding time on for nothing. Snapshots of schema 1 and 2 (the JSON
/// alone, plain or compressed, ids inside it) still read. Storage providers hold these bytes opaquely.
/// </summary>
public static class AccountStateSerializer
{
    /// <summary>JSON of at most this many bytes stays plain (compressing it saves too little).</summary>
    public const int CompressAbove = 512;

    /// <summary>The first byte of a schema-3 snapshot: neither '{' nor <see cref="CompressedFrame.Marker"/>.</summary>
    public const byte Marker = 0xB3;

    public static byte[] Serialize(AccountState state)
    {
        // The JSON goes into a buffer kept per thread and is compressed into a pooled one: only the
        // snapshot itself is allocated (a truncation round writes one per account fed, 100,000 a minute).
        var json = Json(state);
        var packed = System.Buffers.ArrayPool<byte>.Shared.Rent(CompressedFrame.MaxPackedLength(json.Length));
        try
        {
            var body = json.Length > CompressAbove && CompressedFrame.TryPack(json, packed, out var written) ? packed.AsSpan(0, written) : json;
            var header = 1 + Varint.Length((uint)body.Length);
            var snapshot = new byte[header + body.Length + state.Dedup.StoredLength];
            snapshot[0] = Marker;
            Varint.Write(snapshot.AsSpan(1), (uint)body.Length);
            body.CopyTo(snapshot.AsSpan(header));
            state.Dedup.WriteStored(snapshot.AsSpan(header + body.Length));
            return snapshot;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(packed);
        }
    }

    [ThreadStatic] private static System.Buffers.ArrayBufferWriter<byte>? t_json;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    /// <summary>The state's JSON, valid until this thread serializes again.</summary>
    private static ReadOnlySpan<byte> Json(AccountState state)
    {
        var buffer = t_json ??= new System.Buffers.ArrayBufferWriter<byte>(16 * 1024);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = StateJsonContext.Default.Options.Encoder });
        writer.Reset(buffer);
        JsonSerializer.Serialize(writer, state, StateJsonContext.Default.AccountState);
        writer.Flush();
        return buffer.WrittenSpan;
    }

    /// <summary>Reads a snapshot of this or an older schema (older ones are upgraded as they are read).</summary>
    public static AccountState Deserialize(ReadOnlySpan<byte> snapshot)
    {
        if (snapshot.IsEmpty)
        {
            return new AccountState();
        }
        var body = snapshot;
        var ids = ReadOnlySpan<byte>.Empty;
        if (snapshot[0] == Marker)
        {
            int header;
            uint length;
            try
            {
                header = Varint.Read(snapshot, 1, "the JSON part's length", out length);
            }
            catch (FormatException e)
            {
                throw new JsonException($"An account snapshot is corrupt: {e.Message}.", e);
            }
            if (length > (uint)(snapshot.Length - header))
            {
                throw new JsonException($"An account snapshot is corrupt: its JSON part is {length} bytes, but only {snapshot.Length - header} follow.");
            }
            body = snapshot.Slice(header, (int)length);
            ids = snapshot[(header + (int)length)..];
        }
        var json = CompressedFrame.IsPacked(body) ? Decompress(body) : body;
        var state = JsonSerializer.Deserialize(json, StateJsonContext.Default.AccountState)
            ?? throw new JsonException("An account snapshot decoded to null.");
        if (state.SchemaVersion > AccountState.CurrentSchemaVersion)
        {
            throw new JsonException($"schemaVersion: this node reads account snapshots up to version {AccountState.CurrentSchemaVersion}, got {state.SchemaVersion}; run the newer CsMetrics that wrote it");
        }
        if (snapshot[0] == Marker)
        {
            try
            {
                state.Dedup.ReadStored(ids);
            }
            catch (FormatException e)
            {
                throw new JsonException($"An account snapshot is corrupt: {e.Message}.", e);
            }
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
