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
        var copy = new DedupState { Entries = dedup.Entries };
        Assert.Equal(dedup.Entries, copy.Entries);
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
}
