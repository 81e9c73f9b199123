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

    // Parallel arrays, so the search is a vectorised scan of the low halves.
    private ulong[] _low = [];
    private ulong[] _high = [];
    private long[] _ticks = [];
    private int _count;

    /// <summary>How many ids are remembered.</summary>
    public int Count => _count;

    /// <summary>
    /// When the id cap forces an id out, events at or before its time can no longer be
    /// de-duplicated, so they are treated as late (kept, not applied) instead of risking a double count.
    /// </summary>
    public DateTimeOffset? Horizon { get; set; }

    /// <summary>
    /// The stored form: per id, 16 bytes of hash (low then high half) and 8 bytes of event time in
    /// UTC ticks, little-endian.
    /// </summary>
    public byte[] Entries
    {
        get
        {
            var bytes = new byte[_count * EntryBytes];
            for (var i = 0; i < _count; i++)
            {
                var entry = bytes.AsSpan(i * EntryBytes, EntryBytes);
                BinaryPrimitives.WriteUInt64LittleEndian(entry, _low[i]);
                BinaryPrimitives.WriteUInt64LittleEndian(entry[8..], _high[i]);
                BinaryPrimitives.WriteInt64LittleEndian(entry[16..], _ticks[i]);
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
        var lows = _low.AsSpan(0, _count);
        var offset = 0;
        while (true)
        {
            var i = lows[offset..].IndexOf(low);
            if (i < 0)
            {
                return false;
            }
            if (_high[offset + i] == high)
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
        for (var i = 0; i < _count; i++)
        {
            if (_ticks[i] >= cutoff)
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
        Array.Sort(order, (a, b) => _ticks[a] != _ticks[b] ? _ticks[a].CompareTo(_ticks[b])
            : _high[a] != _high[b] ? _high[a].CompareTo(_high[b]) : _low[a].CompareTo(_low[b]));
        var excess = _count - maxIds;
        var lastEvicted = new DateTimeOffset(_ticks[order[excess - 1]], TimeSpan.Zero);
        Horizon = Horizon is { } h && h > lastEvicted ? h : lastEvicted;
        var (low, high, ticks) = (new ulong[maxIds], new ulong[maxIds], new long[maxIds]);
        for (var i = 0; i < maxIds; i++)
        {
            var from = order[excess + i];
            (low[i], high[i], ticks[i]) = (_low[from], _high[from], _ticks[from]);
        }
        (_low, _high, _ticks, _count) = (low, high, ticks, maxIds);
    }

    private void Move(int from, int to)
    {
        if (from != to)
        {
            (_low[to], _high[to], _ticks[to]) = (_low[from], _high[from], _ticks[from]);
        }
    }

    private void Append(ulong low, ulong high, long ticks)
    {
        if (_count == _low.Length)
        {
            var capacity = Math.Max(2, _count * 2);
            Array.Resize(ref _low, capacity);
            Array.Resize(ref _high, capacity);
            Array.Resize(ref _ticks, capacity);
        }
        (_low[_count], _high[_count], _ticks[_count]) = (low, high, ticks);
        _count++;
    }

    private static (ulong Low, ulong High) Hash(string id)
    {
        var hash = XxHash128.HashToUInt128(MemoryMarshal.AsBytes(id.AsSpan()));
        return ((ulong)hash, (ulong)(hash >> 64));
    }
}
