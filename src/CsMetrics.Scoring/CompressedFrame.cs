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
    public static byte[] Pack(byte[] plain)
    {
        var output = new byte[BrotliEncoder.GetMaxCompressedLength(plain.Length) + 1];
        output[0] = Marker;
        return BrotliEncoder.TryCompress(plain, output.AsSpan(1), out var written, quality: 1, window: 22) && written + 1 < plain.Length
            ? output[..(written + 1)]
            : plain;
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
