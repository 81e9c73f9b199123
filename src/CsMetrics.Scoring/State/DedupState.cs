using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace CsMetrics.Scoring.State;

/// <summary>A remembered event id, as schema-1 snapshots stored it (the id itself).</summary>
public sealed record SeenId(string Id, DateTimeOffset At);

/// <summary>
/// Recently applied event ids, so a retried event is never counted twice. Each id is remembered as
/// its 128-bit XxHash128 and its event time: 24 bytes, against about 190 for the id string, a record
/// and a hash-set entry, and no object per id for the garbage collector to trace. Two distinct ids
/// share a 128-bit hash with a probability of about 2^-128 per pair: never, in practice.
/// </summary>
public sealed class DedupState
{
    private const int EntryBytes = 24;

    // One array of three equal parts: the low halves of the hashes, the high halves, the event
    // times in UTC ticks. The search is a vectorised scan of the low halves; one array instead of
    // three saves two object headers an account, and two copies each time it grows.
    private ulong[] _entries = [];
    private int _capacity;
    private int _count;

    private Span<ulong> Lows => _entries.AsSpan(0, _capacity);
    private Span<ulong> Highs => _entries.AsSpan(_capacity, _capacity);
    private Span<ulong> Times => _entries.AsSpan(2 * _capacity, _capacity);

    /// <summary>How many ids are remembered.</summary>
    public int Count => _count;

    /// <summary>
    /// When the id cap forces an id out, events at or before its time can no longer be
    /// de-duplicated, so they are treated as late (kept, not applied) instead of risking a double count.
    /// </summary>
    public DateTimeOffset? Horizon { get => Compact.Time(_horizon); set => _horizon = Compact.Ticks(value); }
    private long _horizon;

    /// <summary>
    /// The stored form: per id, 16 bytes of hash (low then high half) and 8 bytes of event time in
    /// UTC ticks, little-endian.
    /// </summary>
    public byte[] Entries
    {
        get
        {
            var bytes = new byte[_count * EntryBytes];
            var lows = Lows;
            var highs = Highs;
            var times = Times;
            for (var i = 0; i < _count; i++)
            {
                var entry = bytes.AsSpan(i * EntryBytes, EntryBytes);
                BinaryPrimitives.WriteUInt64LittleEndian(entry, lows[i]);
                BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], highs[i]);
                BinaryPrimitives.WriteInt64LittleEndian(entry[16..], (long)times[i]);
            }
            return bytes;
        }
        set
        {
            if (value.Length % EntryBytes != 0)
            {
                throw new FormatException($"dedup.entries: expected a multiple of {EntryBytes} bytes, got {value.Length}");
            }
            for (var offset = 0; offset < value.Length; offset += EntryBytes)
            {
                var entry = value.AsSpan(offset, EntryBytes);
                Append(BinaryPrimitives.ReadUInt64LittleEndian(entry), BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]),
                    BinaryPrimitives.ReadInt64LittleEndian(entry[16..]));
            }
        }
    }

    /// <summary>Schema 1 stored the ids themselves: read from old snapshots (and hashed), never written.</summary>
    public List<SeenId>? Ids
    {
        get => null;
        set
        {
            foreach (var seen in value ?? [])
            {
                Add(seen.Id, seen.At);
            }
        }
    }

    public bool Contains(string id)
    {
        var (low, high) = Hash(id);
        var lows = Lows[.._count];
        var highs = Highs;
        var offset = 0;
        while (true)
        {
            var i = lows[offset..].IndexOf(low);
            if (i < 0)
            {
                return false;
            }
            if (highs[offset + i] == high)
            {
                return true;
            }
            offset += i + 1;
        }
    }

    public void Add(string id, DateTimeOffset at)
    {
        var (low, high) = Hash(id);
        Append(low, high, at.UtcTicks);
    }

    /// <summary>Forgets ids of events before <paramref name="forgetBefore"/>, then the oldest beyond <paramref name="maxIds"/>.</summary>
    public void Prune(DateTimeOffset forgetBefore, int maxIds)
    {
        var cutoff = forgetBefore.UtcTicks;
        var kept = 0;
        var times = Times;
        for (var i = 0; i < _count; i++)
        {
            if ((long)times[i] >= cutoff)
            {
                Move(i, kept++);
            }
        }
        _count = kept;
        if (_count <= maxIds)
        {
            return;
        }
        // Over the cap: keep the newest. Ties on time break by hash, so every replica evicts the same ids.
        var order = new int[_count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }
        var (entries, capacity) = (_entries, _capacity);
        Array.Sort(order, (a, b) =>
        {
            var (ta, tb) = ((long)entries[2 * capacity + a], (long)entries[2 * capacity + b]);
            var (ha, hb) = (entries[capacity + a], entries[capacity + b]);
            return ta != tb ? ta.CompareTo(tb) : ha != hb ? ha.CompareTo(hb) : entries[a].CompareTo(entries[b]);
        });
        var excess = _count - maxIds;
        var lastEvicted = new DateTimeOffset((long)Times[order[excess - 1]], TimeSpan.Zero);
        Horizon = Horizon is { } h && h > lastEvicted ? h : lastEvicted;
        var newest = new ulong[3 * maxIds];
        for (var i = 0; i < maxIds; i++)
        {
            var from = order[excess + i];
            (newest[i], newest[maxIds + i], newest[2 * maxIds + i]) = (entries[from], entries[capacity + from], entries[2 * capacity + from]);
        }
        (_entries, _capacity, _count) = (newest, maxIds, maxIds);
    }

    private void Move(int from, int to)
    {
        if (from != to)
        {
            var lows = Lows;
            var highs = Highs;
            var times = Times;
            (lows[to], highs[to], times[to]) = (lows[from], highs[from], times[from]);
        }
    }

    private void Append(ulong low, ulong high, long ticks)
    {
        if (_count == _capacity)
        {
            var capacity = Math.Max(2, _count * 2);
            var grown = new ulong[3 * capacity];
            Lows[.._count].CopyTo(grown);
            Highs[.._count].CopyTo(grown.AsSpan(capacity));
            Times[.._count].CopyTo(grown.AsSpan(2 * capacity));
            (_entries, _capacity) = (grown, capacity);
        }
        (Lows[_count], Highs[_count], Times[_count]) = (low, high, (ulong)ticks);
        _count++;
    }

    private static (ulong Low, ulong High) Hash(string id)
    {
        var hash = XxHash128.HashToUInt128(MemoryMarshal.AsBytes(id.AsSpan()));
        return ((ulong)hash, (ulong)(hash >> 64));
    }
}
