using System.IO.Compression;

namespace CsMetrics.Scoring;

/// <summary>
/// Bytes that storage keeps, Brotli-compressed (quality 1: fast, and most of the gain) behind a
/// one-byte marker. The marker, 0xB1, is neither a JSON snapshot's first byte ('{') nor an event
/// encoding's version byte, so readers tell compressed from plain data written before compression.
/// </summary>
public static class CompressedFrame
{
    public const byte Marker = 0xB1;

    /// <summary>The marker and the compressed bytes, or the input itself when compressing would not make it smaller.</summary>
    public static byte[] Pack(byte[] plain) => TryPack(plain) ?? plain;

    /// <summary>
    /// The marker and the compressed bytes in an array of exactly their size, or null when
    /// compressing would not make <paramref name="plain"/> smaller. The encoder writes into a
    /// pooled buffer: only the result is allocated (an entry of the event log is 50-100 KB plain,
    /// and a fresh buffer of that size per request went to the large-object heap).
    /// </summary>
    public static byte[]? TryPack(ReadOnlySpan<byte> plain)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(BrotliEncoder.GetMaxCompressedLength(plain.Length) + 1);
        try
        {
            if (!BrotliEncoder.TryCompress(plain, buffer.AsSpan(1), out var written, quality: 1, window: 22) || written + 1 >= plain.Length)
            {
                return null;
            }
            buffer[0] = Marker;
            return buffer.AsSpan(0, written + 1).ToArray();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public static bool IsPacked(ReadOnlySpan<byte> data) => !data.IsEmpty && data[0] == Marker;

    /// <summary>
    /// The plain bytes of a packed frame (marker included in <paramref name="packed"/>). Throws
    /// <see cref="InvalidDataException"/> when the data does not decode or would grow past
    /// <paramref name="maxBytes"/>, so a corrupt frame cannot make the reader allocate without bound.
    /// </summary>
    public static byte[] Unpack(ReadOnlySpan<byte> packed, int maxBytes)
    {
        using var input = new MemoryStream(packed[1..].ToArray());
        using var brotli = new BrotliStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream(packed.Length * 4);
        var buffer = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = brotli.Read(buffer)) > 0)
            {
                output.Write(buffer, 0, read);
                if (output.Length > maxBytes)
                {
                    throw new InvalidDataException($"compressed data decodes to more than {maxBytes} bytes");
                }
            }
        }
        catch (InvalidOperationException e)
        {
            // What BrotliStream throws for data that is not Brotli ("Decoder ran into invalid data").
            throw new InvalidDataException("compressed data does not decode", e);
        }
        return output.ToArray();
    }
}
