using CsMetrics.Contracts.Alerts;

namespace CsMetrics.Grains.Tests.Alerts;

public class AlertShardsTests
{
    [Fact]
    public void For_IsStableAcrossProcesses()
    {
        // Fixed values: if these change, every stored account moves to another shard.
        Assert.Equal(15, AlertShards.For("acme"));
        Assert.Equal(7, AlertShards.For("beta"));
    }

    [Fact]
    public void For_SpreadsAccountsOverEveryShard()
    {
        var counts = Enumerable.Range(0, 16_000).GroupBy(i => AlertShards.For($"account-{i}")).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(AlertShards.Count, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 700, 1300));
    }
}

[Collection(ClusterTests.Name)]
public class AlertGrainTests(ClusterFixture fixture)
{
    [Fact]
    public async Task RecentAsync_ListsNewestFirstWithIncreasingSequence()
    {
        var shard = fixture.Grains.GetGrain<IAlertGrain>(3);
        var at = fixture.Time.GetUtcNow();
        var a = await shard.RaiseAsync(new AlertDraft("x", AlertTypes.EnteredRed, AlertTypes.Critical, at, 70, 50, "yellow", "red", "test", []));
        var b = await shard.RaiseAsync(new AlertDraft("y", AlertTypes.Recovered, AlertTypes.Informational, at, 50, 65, "red", "yellow", "test", []));
        Assert.True(b.Sequence > a.Sequence);
        Assert.NotEqual(a.Id, b.Id);
        var recent = await shard.RecentAsync(2);
        Assert.Equal([b.Id, a.Id], recent.Select(r => r.Id));
    }
}
