using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace CsMetrics.Scoring.Events;

/// <summary>
/// A compact, versioned binary form of a list of events: what the durable event log stores.
/// Layout: version byte, count (varint), then per event its fields as length-prefixed UTF-8
/// strings, the family and actor bytes, the UTC ticks (8 bytes) and the property pairs; from
/// version 2 the source after the user. Version 1 (written before sources existed) still decodes.
/// Past <see cref="CompressAbove"/> bytes the encoding is stored as a <see cref="CompressedFrame"/>:
/// a batch repeats its type and property names, account prefixes and timestamps, so it shrinks
/// several times, and the log's storage parses, keeps and writes that much less.
/// Uncompressed entries (written before compression, or small) still decode.
/// </summary>
public static class HealthEventCodec
{
    private const byte Version = 2;

    /// <summary>Encodings of at most this many bytes are stored plain (compressing them saves too little).</summary>
    public const int CompressAbove = 512;

    /// <summary>A packed entry that decodes past this is corrupt (a log entry holds at most about 1 MB of compressed events).</summary>
    private const int MaxPlainBytes = 64 * 1024 * 1024;

    // One encoding buffer per thread, kept between calls: a log entry is 50-100 KB before compression,
    // and a new buffer per request (grown by doubling, then copied) went to the large-object heap.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_writer;

    private const int MaxKeptBufferBytes = 1 << 20;

    public static byte[] Encode(IReadOnlyList<HealthEvent> events)
    {
        var writer = t_writer ??= new ArrayBufferWriter<byte>(64 * 1024);
        writer.ResetWrittenCount();
        try
        {
            Write(writer, events);
            var plain = writer.WrittenSpan;
            return plain.Length <= CompressAbove ? plain.ToArray() : CompressedFrame.TryPack(plain) ?? plain.ToArray();
        }
        finally
        {
            if (writer.Capacity > MaxKeptBufferBytes)
            {
                t_writer = null; // an outsized batch: do not keep its buffer
            }
        }
    }

    internal static byte[] EncodePlain(IReadOnlyList<HealthEvent> events)
    {
        var writer = new ArrayBufferWriter<byte>(events.Count * 96 + 8);
        Write(writer, events);
        return writer.WrittenSpan.ToArray();
    }

    private static void Write(ArrayBufferWriter<byte> writer, IReadOnlyList<HealthEvent> events)
    {
        writer.GetSpan(1)[0] = Version;
        writer.Advance(1);
        WriteVarint(writer, (uint)events.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            WriteString(writer, e.Id);
            WriteString(writer, e.Account);
            WriteString(writer, e.Type);
            var span = writer.GetSpan(10);
            span[0] = (byte)e.Family;
            span[1] = (byte)e.Actor;
            BinaryPrimitives.WriteInt64LittleEndian(span[2..], e.Timestamp.UtcTicks);
            writer.Advance(10);
            WriteString(writer, e.User);
            WriteString(writer, e.Source);
            WriteVarint(writer, (uint)e.Properties.Count);
            if (e.Properties is Dictionary<string, string> dictionary)
            {
                foreach (var (name, value) in dictionary) // the struct enumerator: no allocation per event
                {
                    WriteString(writer, name);
                    WriteString(writer, value);
                }
            }
            else
            {
                foreach (var (name, value) in e.Properties)
                {
                    WriteString(writer, name);
                    WriteString(writer, value);
                }
            }
        }
    }

    /// <summary>The events of an entry; <see cref="InvalidDataException"/> for anything that is not a whole, known encoding.</summary>
    public static List<HealthEvent> Decode(ReadOnlySpan<byte> data)
    {
        if (CompressedFrame.IsPacked(data))
        {
            data = CompressedFrame.Unpack(data, MaxPlainBytes);
        }
        if (data.IsEmpty || data[0] is not (1 or Version))
        {
            throw new InvalidDataException($"Unknown event encoding version {(data.IsEmpty ? -1 : data[0])}");
        }
        try
        {
            return DecodePlain(data);
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException)
        {
            // Brotli has no checksum: damaged data can decompress into a truncated or garbled encoding.
            throw new InvalidDataException("Truncated or garbled event encoding", e);
        }
    }

    private static List<HealthEvent> DecodePlain(ReadOnlySpan<byte> data)
    {
        var version = data[0];
        var offset = 1;
        var count = (int)ReadVarint(data, ref offset);
        var events = new List<HealthEvent>(count);
        for (var i = 0; i < count; i++)
        {
            var id = ReadString(data, ref offset)!;
            var account = ReadString(data, ref offset)!;
            var type = ReadString(data, ref offset)!;
            var family = (EventFamily)data[offset];
            var actor = (Actor)data[offset + 1];
            var ticks = BinaryPrimitives.ReadInt64LittleEndian(data[(offset + 2)..]);
            offset += 10;
            var user = ReadString(data, ref offset);
            var source = version >= 2 ? ReadString(data, ref offset) : null;
            var propertyCount = (int)ReadVarint(data, ref offset);
            IReadOnlyDictionary<string, string> properties = HealthEvent.NoProperties;
            if (propertyCount > 0)
            {
                var dict = new Dictionary<string, string>(propertyCount, StringComparer.Ordinal);
                for (var p = 0; p < propertyCount; p++)
                {
                    dict[ReadString(data, ref offset)!] = ReadString(data, ref offset)!;
                }
                properties = dict;
            }
            events.Add(new HealthEvent(id, account, type, family, new DateTimeOffset(ticks, TimeSpan.Zero), user, actor, properties, source));
        }
        return events;
    }

    private static void WriteString(ArrayBufferWriter<byte> writer, string? value)
    {
        if (value is null)
        {
            WriteVarint(writer, 0);
            return;
        }
        var length = Encoding.UTF8.GetByteCount(value);
        WriteVarint(writer, (uint)length + 1);
        Encoding.UTF8.GetBytes(value, writer.GetSpan(length));
        writer.Advance(length);
    }

    private static string? ReadString(ReadOnlySpan<byte> data, ref int offset)
    {
        var length = (int)ReadVarint(data, ref offset);
        if (length == 0)
        {
            return null;
        }
        var value = Encoding.UTF8.GetString(data.Slice(offset, length - 1));
        offset += length - 1;
        return value;
    }

    private static void WriteVarint(ArrayBufferWriter<byte> writer, uint value)
    {
        var span = writer.GetSpan(5);
        var n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[n++] = (byte)value;
        writer.Advance(n);
    }

    private static uint ReadVarint(ReadOnlySpan<byte> data, ref int offset)
    {
        uint value = 0;
        var shift = 0;
        while (true)
        {
            var b = data[offset++];
            value |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
            shift += 7;
            if (shift > 28)
            {
                throw new InvalidDataException("Malformed varint in event encoding");
            }
        }
    }
}
