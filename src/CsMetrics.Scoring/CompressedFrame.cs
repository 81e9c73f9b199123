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
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(MaxPackedLength(plain.Length));
        try
        {
            return TryPack(plain, buffer, out var written) ? buffer.AsSpan(0, written).ToArray() : null;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The most bytes <see cref="TryPack(ReadOnlySpan{byte}, Span{byte}, out int)"/> writes for <paramref name="plainLength"/> bytes.</summary>
    public static int MaxPackedLength(int plainLength) => BrotliEncoder.GetMaxCompressedLength(plainLength) + 1;

    /// <summary>
    /// Writes the marker and the compressed bytes into <paramref name="destination"/> (at least
    /// <see cref="MaxPackedLength"/> long); false when compressing would not make <paramref name="plain"/> smaller.
    /// </summary>
    public static bool TryPack(ReadOnlySpan<byte> plain, Span<byte> destination, out int written)
    {
        if (!BrotliEncoder.TryCompress(plain, destination[1..], out var compressed, quality: 1, window: 22) || compressed + 1 >= plain.Length)
        {
            written = 0;
            return false;
        }
        destination[0] = Marker;
        written = compressed + 1;
        return true;
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
