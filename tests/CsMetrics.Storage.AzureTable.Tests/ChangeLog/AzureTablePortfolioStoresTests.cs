using CsMetrics.Contracts.Accounts;
using CsMetrics.Storage.AzureTable.ChangeLog;
using CsMetrics.Storage.AzureTable.Tests.Storage;
using CsMetrics.Testing;

namespace CsMetrics.Storage.AzureTable.Tests.ChangeLog;

/// <summary>The portfolio shards' stores against a real Azurite: each shard keeps its own entries, across snapshots and reloads.</summary>
[Collection(AzuriteTests.Name)]
public class AzureTablePortfolioStoresTests(Azurite azurite)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    private AzureTablePortfolioStores Stores(string service) => new(azurite.ConnectionString, "portfoliotest", service, TimeSpan.FromSeconds(10));

    private static PortfolioEntry Entry(string account, long sequence, double score, string band) =>
        new(account, sequence, $"Name of {account}", "enterprise", "cs-east", score, band, 1200.5, T0.AddMinutes(sequence),
            [new BandMove(T0, null, "green"), new BandMove(T0.AddMinutes(sequence), "green", band)]);

    [Fact]
    public async Task Shards_KeepTheirOwnLatestEntries_AcrossASnapshotAndAReload()
    {
        var ct = TestContext.Current.CancellationToken;
        var service = $"svc{Guid.NewGuid():N}"[..12];
        var stores = Stores(service);
        var first = Enumerable.Range(1, 300).Select(i => Entry($"a-{i % 100}", i, i / 3.0, i % 2 == 0 ? "red" : "yellow")).ToList();
        await stores.Shard(3).AppendAsync(first[..150], ct);
        await stores.Shard(3).AppendAsync(first[150..], ct);
        await stores.Shard(4).AppendAsync([Entry("other", 1, 90, "green")], ct);

        var (loaded, last) = await Stores(service).Shard(3).LoadAsync(ct);
        Assert.Equal(300, last);
        Assert.Equal(100, loaded.Count);
        var latest = loaded.Single(e => e.Account == "a-7");
        Assert.Equal(207, latest.Sequence);
        Assert.Equal(first[206], latest with { Moves = first[206].Moves });
        Assert.Equal(first[206].Moves, latest.Moves);

        // A snapshot of the shard's entries, then more changes: a reload is the snapshot plus the changes after it.
        await stores.Shard(3).SnapshotAsync(loaded, 300, 301, ct);
        await stores.Shard(3).AppendAsync([Entry("a-7", 301, 12.5, "red")], ct);
        var (again, lastAgain) = await Stores(service).Shard(3).LoadAsync(ct);
        Assert.Equal(301, lastAgain);
        Assert.Equal(100, again.Count);
        Assert.Equal(12.5, again.Single(e => e.Account == "a-7").Score);
        var remaining = await Stores(service).Shard(3).ReadChangesAsync(0, 1000, ct);
        Assert.Equal(301, Assert.Single(remaining).Sequence); // the changes the snapshot covers are gone

        var (other, _) = await Stores(service).Shard(4).LoadAsync(ct);
        Assert.Equal("other", Assert.Single(other).Account);
    }
}
