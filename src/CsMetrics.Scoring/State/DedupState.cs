using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace CsMetrics.Scoring.State;

/// <summary>A remembered event id, as schema-1 snapshots stored it (the id itself).</summary>
public sealed record SeenId(string Id, DateTimeOffset At);

/// <summary>
/// Recently applied event ids, so a retried event is never counted twice. Each id is remembered as a
/// 64-bit hash (the low half of its XxHash128) and its event time in whole seconds, rounded up: 12
/// bytes, against about 190 for the id string, a record and a hash-set entry, and no object per id
/// for the garbage collector to trace. A new id is taken for one already remembered by the same
/// account only if their hashes agree: with at most <c>dedupMaxIds</c> (2,048) ids per account that
/// is a chance of at most 2,048 / 2^64, about 1 in 9 quadrillion, per event (once in about 1,400
/// years at 200,000 events a second), and the event is then answered as a duplicate, not lost silently.
/// </summary>
/// <remarks>
/// Rounding a time up keeps every guarantee on the safe side: an id is forgotten no earlier than its
/// event leaves the grace window, and a horizon set from an evicted id's time is never earlier
/// than that event (so an older event is treated as late rather than risk a double count).
/// </remarks>
public sealed class DedupState
{
    private const int LegacyEntryBytes = 24;
    private static readonly long UnixEpochTicks = DateTimeOffset.UnixEpoch.UtcTicks;

    // One array: the hashes in its first `_capacity` elements, then the times (uint seconds since the
    // Unix epoch), two to an element; both parts ordered by (time, hash). The search is a vectorised
    // scan of the hashes; the order makes forgetting old ids and evicting the oldest past the cap a
    // shift, with no sort and no new array. One array instead of two saves an object header.
    private ulong[] _entries = [];
    private int _capacity;
    private int _count;

    private Span<ulong> Hashes => _entries.AsSpan(0, _capacity);
    private Span<uint> Times => MemoryMarshal.Cast<ulong, uint>(_entries.AsSpan(_capacity))[.._capacity];

    /// <summary>How many ids are remembered.</summary>
    public int Count => _count;

    /// <summary>
    /// When the id cap forces an id out, events at or before its time can no longer be
    /// de-duplicated, so they are treated as late (kept, not applied) instead of risking a double count.
    /// </summary>
    public DateTimeOffset? Horizon { get => Compact.Time(_horizon); set => _horizon = Compact.Ticks(value); }
    private long _horizon;

    /// <summary>
    /// Schema 2 kept, in the snapshot's JSON, 24 bytes per id: a 128-bit hash (low then high half)
    /// and the event time in UTC ticks, little-endian. Read from old snapshots, never written (the
    /// ids now follow the JSON: <see cref="WriteStored"/>).
    /// </summary>
    public byte[]? Entries
    {
        get => null;
        set
        {
            if (value is null)
            {
                return;
            }
            if (value.Length % LegacyEntryBytes != 0)
            {
                throw new FormatException($"dedup.entries: expected a multiple of {LegacyEntryBytes} bytes, got {value.Length}");
            }
            for (var offset = 0; offset < value.Length; offset += LegacyEntryBytes)
            {
                var entry = value.AsSpan(offset, LegacyEntryBytes);
                // The low half of the 128-bit hash is the 64-bit hash this code keeps.
                Append(BinaryPrimitives.ReadUInt64LittleEndian(entry),
                    Seconds(BinaryPrimitives.ReadInt64LittleEndian(entry[16..]) - UnixEpochTicks));
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

    /// <summary>Asks the processor for the ids' array (see <see cref="StatePrefetch"/>).</summary>
    internal void Prefetch()
    {
        if (_entries.Length > 0)
        {
            StatePrefetch.Address(ref _entries[0]);
        }
    }

    public bool Contains(string id) => Hashes[.._count].Contains(Hash(id));

    public void Add(string id, DateTimeOffset at) => Append(Hash(id), Seconds(at.UtcTicks - UnixEpochTicks));

    /// <summary>Forgets ids of events before <paramref name="forgetBefore"/>, then the oldest beyond <paramref name="maxIds"/>.</summary>
    public void Prune(DateTimeOffset forgetBefore, int maxIds)
    {
        // The first id at or after the cutoff: everything before it is forgotten. A kept time t (whole
        // seconds) is before the cutoff exactly when t < the cutoff in seconds rounded up.
        var times = Times[.._count];
        var cutoff = Seconds(forgetBefore.UtcTicks - UnixEpochTicks);
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
            var lastEvicted = DateTimeOffset.FromUnixTimeSeconds(times[lo + excess - 1]);
            Horizon = Horizon is { } h && h > lastEvicted ? h : lastEvicted;
        }
        var drop = lo + excess;
        if (drop > 0)
        {
            var kept = _count - drop;
            Hashes.Slice(drop, kept).CopyTo(Hashes);
            Times.Slice(drop, kept).CopyTo(Times);
            _count = kept;
        }
    }

    /// <summary>
    /// The bytes <see cref="WriteStored"/> writes: the count, the hashes (8 bytes each,
    /// little-endian, in order), then the times as 7-bit varints, the first in seconds since the Unix
    /// epoch and each next one as the step from the one before (ids arrive close together in time, so
    /// a step takes one to three bytes). About 10 bytes per id; the hashes do not compress, so these
    /// bytes are kept out of the snapshot's compressed JSON.
    /// </summary>
    public int StoredLength
    {
        get
        {
            var length = Varint.Length((uint)_count) + 8 * _count;
            var times = Times[.._count];
            var previous = 0u;
            foreach (var t in times)
            {
                length += Varint.Length(t - previous);
                previous = t;
            }
            return length;
        }
    }

    /// <summary>Writes the remembered ids (<see cref="StoredLength"/> bytes) and returns how many bytes that took.</summary>
    public int WriteStored(Span<byte> destination)
    {
        var at = Varint.Write(destination, (uint)_count);
        foreach (var hash in Hashes[.._count])
        {
            BinaryPrimitives.WriteUInt64LittleEndian(destination[at..], hash);
            at += 8;
        }
        var previous = 0u;
        foreach (var t in Times[.._count])
        {
            at += Varint.Write(destination[at..], t - previous);
            previous = t;
        }
        return at;
    }

    /// <summary>Reads what <see cref="WriteStored"/> wrote, adding to the ids remembered; the whole of <paramref name="source"/> must be that.</summary>
    public void ReadStored(ReadOnlySpan<byte> source)
    {
        var at = Varint.Read(source, 0, "dedup", out var count);
        if (count > (source.Length - at) / 8)
        {
            throw new FormatException($"dedup: {count} ids do not fit in the {source.Length} bytes stored");
        }
        EnsureCapacity(_count + (int)count);
        var hashes = source.Slice(at, (int)count * 8);
        at += hashes.Length;
        var time = 0u;
        for (var i = 0; i < (int)count; i++)
        {
            at = Varint.Read(source, at, "dedup", out var step);
            if (step > uint.MaxValue - time)
            {
                throw new FormatException($"dedup: the time of id {i} is past what a snapshot can hold");
            }
            time += step;
            Append(BinaryPrimitives.ReadUInt64LittleEndian(hashes[(i * 8)..]), time);
        }
        if (at != source.Length)
        {
            throw new FormatException($"dedup: {source.Length - at} bytes left after {count} ids");
        }
    }

    /// <summary>Inserts an id in (time, hash) order: at the end, for events that arrive in time order.</summary>
    private void Append(ulong hash, uint seconds)
    {
        EnsureCapacity(_count + 1);
        var hashes = Hashes;
        var times = Times;
        var key = (Time: seconds, Hash: hash);
        var at = _count;
        if (at > 0 && key.CompareTo((times[at - 1], hashes[at - 1])) < 0)
        {
            int lo = 0, hi = _count;
            while (lo < hi)
            {
                var mid = (lo + hi) >>> 1;
                if (key.CompareTo((times[mid], hashes[mid])) < 0)
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
            hashes.Slice(at, tail).CopyTo(hashes[(at + 1)..]);
            times.Slice(at, tail).CopyTo(times[(at + 1)..]);
        }
        (hashes[at], times[at]) = (hash, seconds);
        _count++;
    }

    private void EnsureCapacity(int needed)
    {
        if (needed <= _capacity)
        {
            return;
        }
        // Doubling while small, then a quarter at a time: an account at the cap of 2,048 ids holds
        // room for 2,500, 30 KB. A snapshot read sizes the array to its ids exactly.
        var capacity = needed == _count + 1
            ? Math.Max(needed, _count < 1024 ? Math.Max(2, _count * 2) : _count + _count / 4)
            : needed;
        var grown = new ulong[capacity + (capacity + 1) / 2];
        Hashes[.._count].CopyTo(grown);
        Times[.._count].CopyTo(MemoryMarshal.Cast<ulong, uint>(grown.AsSpan(capacity)));
        (_entries, _capacity) = (grown, capacity);
    }

    /// <summary>Seconds since the Unix epoch, rounded up, within what a uint holds.</summary>
    private static uint Seconds(long ticksSinceEpoch) =>
        ticksSinceEpoch <= 0 ? 0u : (uint)Math.Min(uint.MaxValue, (ticksSinceEpoch + TimeSpan.TicksPerSecond - 1) / TimeSpan.TicksPerSecond);

    private static ulong Hash(string id) => (ulong)XxHash128.HashToUInt128(MemoryMarshal.AsBytes(id.AsSpan()));
}
