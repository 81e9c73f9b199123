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
    // times in UTC ticks, every part ordered by (time, high, low). The search is a vectorised scan
    // of the low halves; the order makes forgetting old ids and evicting the oldest past the cap a
    // shift, with no sort and no new array (an account at the cap used to sort its 2,048 ids and
    // allocate them anew on every call). One array instead of three saves two object headers.
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
        // The first id at or after the cutoff: everything before it is forgotten.
        var times = Times[.._count];
        var cutoff = (ulong)forgetBefore.UtcTicks;
        int lo = 0, hi = _count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (times[mid] < cutoff)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }
        // Over the cap: the oldest go too (ties on time broken by hash, so every replica evicts the same ids).
        var excess = Math.Max(0, _count - lo - maxIds);
        if (excess > 0)
        {
            var lastEvicted = new DateTimeOffset((long)times[lo + excess - 1], TimeSpan.Zero);
            Horizon = Horizon is { } h && h > lastEvicted ? h : lastEvicted;
        }
        var drop = lo + excess;
        if (drop > 0)
        {
            var kept = _count - drop;
            Lows.Slice(drop, kept).CopyTo(Lows);
            Highs.Slice(drop, kept).CopyTo(Highs);
            Times.Slice(drop, kept).CopyTo(Times);
            _count = kept;
        }
    }

    /// <summary>Inserts an id in (time, high, low) order: at the end, for events that arrive in time order.</summary>
    private void Append(ulong low, ulong high, long ticks)
    {
        if (_count == _capacity)
        {
            // Doubling while small, then a quarter at a time: an account at the cap of 2,048 ids holds
            // room for 2,500, 60 KB, rather than 4,096 on the large-object heap.
            var capacity = _count < 1024 ? Math.Max(2, _count * 2) : _count + _count / 4;
            var grown = new ulong[3 * capacity];
            Lows[.._count].CopyTo(grown);
            Highs[.._count].CopyTo(grown.AsSpan(capacity));
            Times[.._count].CopyTo(grown.AsSpan(2 * capacity));
            (_entries, _capacity) = (grown, capacity);
        }
        var lows = Lows;
        var highs = Highs;
        var times = Times;
        var key = (Time: (ulong)ticks, High: high, Low: low);
        var at = _count;
        if (at > 0 && key.CompareTo((times[at - 1], highs[at - 1], lows[at - 1])) < 0)
        {
            int lo = 0, hi = _count;
            while (lo < hi)
            {
                var mid = (lo + hi) >>> 1;
                if (key.CompareTo((times[mid], highs[mid], lows[mid])) < 0)
                {
                    hi = mid;
                }
                else
                {
                    lo = mid + 1;
                }
            }
            at = lo;
            var tail = _count - at;
            lows.Slice(at, tail).CopyTo(lows[(at + 1)..]);
            highs.Slice(at, tail).CopyTo(highs[(at + 1)..]);
            times.Slice(at, tail).CopyTo(times[(at + 1)..]);
        }
        (lows[at], highs[at], times[at]) = (low, high, (ulong)ticks);
        _count++;
    }

    private static (ulong Low, ulong High) Hash(string id)
    {
        var hash = XxHash128.HashToUInt128(MemoryMarshal.AsBytes(id.AsSpan()));
        return ((ulong)hash, (ulong)(hash >> 64));
    }
}
