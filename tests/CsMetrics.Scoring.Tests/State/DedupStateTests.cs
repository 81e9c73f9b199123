using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using CsMetrics.Scoring.State;

namespace CsMetrics.Scoring.Tests.State;

/// <summary>The remembered event ids: whatever order ids arrive in, the cap keeps the newest and the horizon marks what it let go.</summary>
public class DedupStateTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void OverTheCap_KeepsTheNewestWhateverTheArrivalOrder_AndTheHorizonIsTheNewestEvicted()
    {
        var dedup = new DedupState();
        var minutes = Enumerable.Range(0, 100).OrderBy(i => (i * 37) % 100).ToArray(); // every minute once, shuffled
        foreach (var m in minutes)
        {
            dedup.Add($"e-{m}", T0.AddMinutes(m));
        }
        dedup.Prune(T0, maxIds: 10);

        Assert.Equal(10, dedup.Count);
        Assert.All(Enumerable.Range(90, 10), m => Assert.True(dedup.Contains($"e-{m}")));
        Assert.All(Enumerable.Range(0, 90), m => Assert.False(dedup.Contains($"e-{m}")));
        Assert.Equal(T0.AddMinutes(89), dedup.Horizon);
    }

    [Fact]
    public void ForgettingOldIds_LeavesTheHorizonAlone_AndTheRestSurviveASnapshot()
    {
        var dedup = new DedupState();
        foreach (var m in new[] { 50, 10, 40, 20, 30 })
        {
            dedup.Add($"e-{m}", T0.AddMinutes(m));
        }
        dedup.Prune(T0.AddMinutes(25), maxIds: 100);

        Assert.Null(dedup.Horizon);
        Assert.Equal(3, dedup.Count);
        var copy = RoundTrip(dedup);
        Assert.Equal(Stored(dedup), Stored(copy));
        Assert.True(copy.Contains("e-30") && copy.Contains("e-40") && copy.Contains("e-50"));
        Assert.False(copy.Contains("e-10") || copy.Contains("e-20"));
    }

    [Fact]
    public void AnAccountAtTheCap_StaysAtTheCapCallAfterCall()
    {
        var dedup = new DedupState();
        var n = 0;
        for (var call = 0; call < 200; call++)
        {
            for (var i = 0; i < 40; i++, n++)
            {
                dedup.Add($"e-{n}", T0.AddSeconds((n * 7919) % 100_000));
            }
            dedup.Prune(T0, maxIds: 2048);
            Assert.True(dedup.Count <= 2048);
        }
        Assert.Equal(2048, dedup.Count);
        Assert.True(dedup.Horizon > T0);
    }

    [Fact]
    public void TheStoredForm_IsAboutTenBytesAnId_AndReadsBackTheSameIds()
    {
        var dedup = new DedupState();
        var ids = Enumerable.Range(0, 500).Select(i => (Id: $"evt-{Guid.NewGuid():N}", At: T0.AddSeconds(i * 37 % 5_000))).ToList();
        foreach (var (id, at) in ids)
        {
            dedup.Add(id, at);
        }

        var stored = Stored(dedup);
        var copy = RoundTrip(dedup);

        Assert.Equal(dedup.StoredLength, stored.Length);
        Assert.InRange(stored.Length, 8 * 500, 11 * 500); // 8 bytes of hash, a step of 1-2 bytes in time
        Assert.Equal(500, copy.Count);
        Assert.All(ids, x => Assert.True(copy.Contains(x.Id)));
        Assert.False(copy.Contains("evt-never-sent"));
        Assert.Equal(stored, Stored(copy));
        // Pruned the same way, the copy forgets exactly what the original forgets.
        dedup.Prune(T0.AddSeconds(2_500), maxIds: 100);
        copy.Prune(T0.AddSeconds(2_500), maxIds: 100);
        Assert.Equal(Stored(dedup), Stored(copy));
        Assert.Equal(dedup.Horizon, copy.Horizon);
    }

    [Fact]
    public void TimesAreKeptInWholeSecondsRoundedUp_SoAnIdIsNeverForgottenEarly_AndTheHorizonIsNeverEarly()
    {
        var dedup = new DedupState();
        dedup.Add("e-early", T0.AddMilliseconds(300));
        dedup.Add("e-late", T0.AddSeconds(5));

        // The first event is before this cutoff, but its kept second (T0 + 1 s) is not: kept a little longer, never shorter.
        dedup.Prune(T0.AddMilliseconds(500), maxIds: 10);
        Assert.True(dedup.Contains("e-early"));
        dedup.Prune(T0.AddMilliseconds(1_200), maxIds: 10);
        Assert.False(dedup.Contains("e-early"));

        var capped = new DedupState();
        capped.Add("e-evicted", T0.AddMilliseconds(300));
        capped.Add("e-kept", T0.AddSeconds(5));
        capped.Prune(T0.AddDays(-1), maxIds: 1);
        // The evicted event happened at T0 + 0.3 s: the horizon is at or after it, so a retry of it is late, not applied twice.
        Assert.Equal(T0.AddSeconds(1), capped.Horizon);
        Assert.True(capped.Contains("e-kept"));
    }

    [Fact]
    public void SchemaTwoEntries_128BitHashesAndTicks_ReadAsTheSameIds()
    {
        var ids = new[] { ("e-1", T0.AddMinutes(1)), ("e-2", T0.AddMinutes(2).AddMilliseconds(250)) };
        var entries = new byte[24 * ids.Length];
        for (var i = 0; i < ids.Length; i++)
        {
            var hash = XxHash128.HashToUInt128(MemoryMarshal.AsBytes(ids[i].Item1.AsSpan()));
            BinaryPrimitives.WriteUInt64LittleEndian(entries.AsSpan(24 * i), (ulong)hash);
            BinaryPrimitives.WriteUInt64LittleEndian(entries.AsSpan(24 * i + 8), (ulong)(hash >> 64));
            BinaryPrimitives.WriteInt64LittleEndian(entries.AsSpan(24 * i + 16), ids[i].Item2.UtcTicks);
        }

        var legacy = new DedupState { Entries = entries };
        var fresh = new DedupState();
        foreach (var (id, at) in ids)
        {
            fresh.Add(id, at);
        }

        Assert.True(legacy.Contains("e-1") && legacy.Contains("e-2"));
        Assert.False(legacy.Contains("e-3"));
        Assert.Equal(Stored(fresh), Stored(legacy));
        Assert.Throws<FormatException>(() => new DedupState { Entries = new byte[23] });
    }

    [Fact]
    public void StoredIds_CutShortOrWithBytesLeftOver_AreRefused_NamingTheDedupState()
    {
        var dedup = new DedupState();
        dedup.Add("e-1", T0);
        dedup.Add("e-2", T0.AddSeconds(1));
        var stored = Stored(dedup);

        var cut = Assert.Throws<FormatException>(() => new DedupState().ReadStored(stored.AsSpan(0, stored.Length - 1)));
        var extra = Assert.Throws<FormatException>(() => new DedupState().ReadStored([.. stored, 0]));
        var tooMany = Assert.Throws<FormatException>(() => new DedupState().ReadStored([0x7F, .. stored.AsSpan(1)]));

        Assert.All(new[] { cut, extra, tooMany }, e => Assert.StartsWith("dedup:", e.Message, StringComparison.Ordinal));
    }

    private static byte[] Stored(DedupState dedup)
    {
        var bytes = new byte[dedup.StoredLength];
        Assert.Equal(bytes.Length, dedup.WriteStored(bytes));
        return bytes;
    }

    private static DedupState RoundTrip(DedupState dedup)
    {
        var copy = new DedupState();
        copy.ReadStored(Stored(dedup));
        return copy;
    }
}
