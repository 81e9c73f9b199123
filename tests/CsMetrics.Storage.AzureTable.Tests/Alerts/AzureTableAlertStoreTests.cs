using CsMetrics.Contracts.Alerts;
using CsMetrics.Storage.AzureTable.Alerts;
using CsMetrics.Storage.AzureTable.Tests.Storage;
using CsMetrics.Testing;

namespace CsMetrics.Storage.AzureTable.Tests.Alerts;

/// <summary>The alert store against a real Azurite: batches append, snapshots compact, a reload loses nothing.</summary>
[Collection(AzuriteTests.Name)]
public class AzureTableAlertStoreTests(Azurite azurite)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    private AzureTableAlertStore Store(string service) => new(azurite.ConnectionString, "alertstoretest", service, TimeSpan.FromSeconds(10));

    private static string NewService() => $"svc{Guid.NewGuid():N}"[..12];

    private static Alert Change(string id, long sequence, string state = AlertStates.Open, string change = Alert.Changes.Raised) =>
        new(id, sequence, $"account-{id}", "entered_red", "critical", T0, 81, 52, "green", "red", $"ticket T-{sequence} escalated",
            new Dictionary<string, double> { ["support"] = -9.5, ["usage"] = sequence % 17 }, state, ["call the sponsor", "review the tickets"],
            T0.AddSeconds(sequence), 1, null, null, null, state == AlertStates.Resolved ? T0.AddHours(1) : null, null, null, null, change);

    /// <summary>2,500 changes of 1,200 alerts, appended in batches of 700: most alerts change twice.</summary>
    private static List<Alert> History()
    {
        var changes = new List<Alert>();
        for (long seq = 1; seq <= 2500; seq++)
        {
            changes.Add(Change($"al-{(seq - 1) % 1200}", seq,
                seq > 1200 ? AlertStates.Acknowledged : AlertStates.Open, seq > 1200 ? Alert.Changes.Acknowledged : Alert.Changes.Raised));
        }
        return changes;
    }

    [Fact]
    public async Task AppendedBatches_ReloadAsCurrentForms_AndReadBackInOrder()
    {
        var service = NewService();
        var store = Store(service);
        foreach (var batch in History().Chunk(700))
        {
            await store.AppendAsync(batch, TestContext.Current.CancellationToken);
        }

        var (alerts, last) = await Store(service).LoadAsync(TestContext.Current.CancellationToken);
        Assert.Equal(2500, last);
        Assert.Equal(1200, alerts.Count);
        var a5 = Assert.Single(alerts, a => a.Id == "al-5");
        Assert.Equal((2406L, AlertStates.Acknowledged), (a5.Sequence, a5.State)); // its newest change
        Assert.Equal(-9.5, a5.Drivers["support"]);
        Assert.Equal(["call the sponsor", "review the tickets"], a5.Playbook);

        var after = await store.ReadChangesAsync(990, 30, TestContext.Current.CancellationToken);
        Assert.Equal(Enumerable.Range(991, 30).Select(i => (long)i), after.Select(c => c.Sequence));
        Assert.Empty(await store.ReadChangesAsync(2500, 10, TestContext.Current.CancellationToken));

        // Appending the same batch again (a retry after a timeout) changes nothing.
        await store.AppendAsync(History()[2100..], TestContext.Current.CancellationToken);
        var (again, lastAgain) = await store.LoadAsync(TestContext.Current.CancellationToken);
        Assert.Equal((1200, 2500L), (again.Count, lastAgain));
    }

    [Fact]
    public async Task ASnapshot_ReplacesTheHistoryItCovers_ForgetsWhatItLeavesOut_AndKeepsLaterChanges()
    {
        var service = NewService();
        var store = Store(service);
        foreach (var batch in History().Chunk(700))
        {
            await store.AppendAsync(batch, TestContext.Current.CancellationToken);
        }
        var (alerts, _) = await store.LoadAsync(TestContext.Current.CancellationToken);
        await store.SnapshotAsync([.. alerts.Where(a => a.Id is not ("al-1" or "al-2"))], upTo: 2500, changesBefore: 2000, TestContext.Current.CancellationToken);
        await store.AppendAsync([Change("al-new", 2501), Change("al-3", 2502, AlertStates.Resolved, Alert.Changes.Resolved)], TestContext.Current.CancellationToken);

        var (reloaded, last) = await Store(service).LoadAsync(TestContext.Current.CancellationToken);
        Assert.Equal(2502, last);
        Assert.Equal(1199, reloaded.Count); // 1,200 - 2 forgotten + 1 new
        Assert.DoesNotContain(reloaded, a => a.Id == "al-1");
        Assert.Equal(AlertStates.Resolved, Assert.Single(reloaded, a => a.Id == "al-3").State);

        // Batches wholly before change 2,000 are gone; the one holding 1,401..2,100 stays.
        var oldest = await store.ReadChangesAsync(0, 1, TestContext.Current.CancellationToken);
        Assert.Equal(1401, Assert.Single(oldest).Sequence);

        // A second snapshot replaces the first.
        await store.SnapshotAsync([.. reloaded], upTo: 2502, changesBefore: 0, TestContext.Current.CancellationToken);
        var (third, thirdLast) = await Store(service).LoadAsync(TestContext.Current.CancellationToken);
        Assert.Equal((1199, 2502L), (third.Count, thirdLast));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ASnapshotOfManyEntities_IsCutIntoPieces_AndReloadsWhole(bool compressible)
    {
        var ct = TestContext.Current.CancellationToken;
        var service = NewService();
        var store = Store(service);
        var random = new Random(5);
        // 30,000 alerts: about 20 MB of JSON, several entities whether it compresses well or hardly at all.
        var alerts = Enumerable.Range(1, 30_000).Select(i => Change($"al-{i}", i) with
        {
            Cause = compressible
                ? $"ticket T-{i % 50} escalated after {i % 7} replies; usage down {i % 30} % on the week"
                : Convert.ToBase64String(Enumerable.Range(0, 400).Select(_ => (byte)random.Next(256)).ToArray()),
        }).ToList();
        await store.SnapshotAsync(alerts, 30_000, 30_001, ct);

        var (loaded, last) = await Store(service).LoadAsync(ct);
        Assert.Equal(30_000, last);
        Assert.Equal(alerts.Select(a => (a.Id, a.Sequence, a.Cause)), loaded.OrderBy(a => a.Sequence).Select(a => (a.Id, a.Sequence, a.Cause)));
    }

    [Fact]
    public async Task ABatchTooLargeForOneEntity_IsSplit_AndReadsBackWhole()
    {
        var service = NewService();
        var store = Store(service);
        var random = new Random(3);
        // Causes that do not compress well, so the batch needs more than one 700 KB entity.
        var changes = Enumerable.Range(1, 6000).Select(i => Change($"al-{i}", i) with
        {
            Cause = Convert.ToBase64String(Enumerable.Range(0, 300).Select(_ => (byte)random.Next(256)).ToArray()),
        }).ToList();
        await store.AppendAsync(changes, TestContext.Current.CancellationToken);
        var read = await store.ReadChangesAsync(0, int.MaxValue, TestContext.Current.CancellationToken);
        Assert.Equal(changes.Select(c => (c.Sequence, c.Cause)), read.Select(c => (c.Sequence, c.Cause)));
    }
}
