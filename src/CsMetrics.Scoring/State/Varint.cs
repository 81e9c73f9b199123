namespace CsMetrics.Scoring.State;

/// <summary>Unsigned 32-bit numbers in 7-bit groups, low group first (1 byte below 128, at most 5).</summary>
internal static class Varint
{
    public static int Length(uint value) => value < 1u << 7 ? 1 : value < 1u << 14 ? 2 : value < 1u << 21 ? 3 : value < 1u << 28 ? 4 : 5;

    /// <summary>Writes <paramref name="value"/> and returns how many bytes that took.</summary>
    public static int Write(Span<byte> destination, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    /// <summary>Reads a number at <paramref name="at"/> and returns where the next byte is; <see cref="FormatException"/> naming <paramref name="what"/> if it is cut short or too long.</summary>
    public static int Read(ReadOnlySpan<byte> source, int at, string what, out uint value)
    {
        value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (at >= source.Length)
            {
                throw new FormatException($"{what}: the bytes end in the middle of a number");
            }
            var b = source[at++];
            if (shift == 28 && b > 0x0F)
            {
                throw new FormatException($"{what}: a number is larger than 32 bits");
            }
            value |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return at;
            }
        }
        throw new FormatException($"{what}: a number is longer than 5 bytes");
    }
}
