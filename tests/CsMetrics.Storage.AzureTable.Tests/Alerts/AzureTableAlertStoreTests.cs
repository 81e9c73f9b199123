using CsMetrics.Contracts.Alerts;
using CsMetrics.Storage.AzureTable.Alerts;
using CsMetrics.Storage.AzureTable.Tests.Storage;
using CsMetrics.Testing;

namespace CsMetrics.Storage.AzureTable.Tests.Alerts;

/// <summary>The alert store against a real Azurite: changes append, current forms replace, a reload loses nothing.</summary>
[Collection(AzuriteTests.Name)]
public class AzureTableAlertStoreTests(Azurite azurite)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    private AzureTableAlertStore Store(string service) => new(azurite.ConnectionString, "alertstoretest", service, TimeSpan.FromSeconds(10));

    private static Alert Change(string id, long sequence, string state = AlertStates.Open, string change = Alert.Changes.Raised) =>
        new(id, sequence, "acme", "entered_red", "critical", T0, 81, 52, "green", "red", "ticket T-1 escalated",
            new Dictionary<string, double> { ["support"] = -9.5 }, state, ["call the sponsor"], T0.AddSeconds(sequence), 1,
            null, null, null, state == AlertStates.Resolved ? T0.AddHours(1) : null, null, null, null, change);

    [Fact]
    public async Task SavedChanges_ReloadAsCurrentForms_AndReadBackInOrderAcrossPartitions()
    {
        var service = $"svc{Guid.NewGuid():N}"[..12];
        var store = Store(service);
        // 2,500 changes of 1,200 alerts: the change log spans three partitions, most alerts change twice.
        var changes = new List<Alert>();
        for (long seq = 1; seq <= 2500; seq++)
        {
            var id = $"al-{(seq - 1) % 1200}";
            changes.Add(Change(id, seq, seq > 1200 ? AlertStates.Acknowledged : AlertStates.Open, seq > 1200 ? Alert.Changes.Acknowledged : Alert.Changes.Raised));
        }
        foreach (var batch in changes.Chunk(700))
        {
            await store.SaveAsync(batch, TestContext.Current.CancellationToken);
        }

        var (alerts, last) = await Store(service).LoadAsync(TestContext.Current.CancellationToken);
        Assert.Equal(2500, last);
        Assert.Equal(1200, alerts.Count);
        var a5 = Assert.Single(alerts, a => a.Id == "al-5");
        Assert.Equal((2406L, AlertStates.Acknowledged), (a5.Sequence, a5.State)); // its newest change
        Assert.Equal(-9.5, a5.Drivers["support"]);
        Assert.Equal(["call the sponsor"], a5.Playbook);

        var after = await store.ReadChangesAsync(990, 30, TestContext.Current.CancellationToken);
        Assert.Equal(Enumerable.Range(991, 30).Select(i => (long)i), after.Select(c => c.Sequence));
        Assert.Empty(await store.ReadChangesAsync(2500, 10, TestContext.Current.CancellationToken));

        // Saving the same changes again (a retry) changes nothing.
        await store.SaveAsync(changes[^10..], TestContext.Current.CancellationToken);
        Assert.Equal(1200, (await store.LoadAsync(TestContext.Current.CancellationToken)).Alerts.Count);

        await store.PruneAsync(["al-1", "al-2"], changesBefore: 2000, TestContext.Current.CancellationToken);
        var (pruned, lastAfterPrune) = await store.LoadAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1198, pruned.Count);
        Assert.Equal(2500, lastAfterPrune);
        var oldest = await store.ReadChangesAsync(0, 1, TestContext.Current.CancellationToken);
        Assert.Equal(2000, Assert.Single(oldest).Sequence); // whole partitions below 2000 are gone
    }

    [Fact]
    public async Task AChangeSavedWithoutItsCurrentForm_StillMovesTheSequenceOnReload()
    {
        var service = $"svc{Guid.NewGuid():N}"[..12];
        var store = Store(service);
        await store.SaveAsync([Change("al-1", 1)], TestContext.Current.CancellationToken);
        // Only the change row of sequence 2 (as if the process died between the two writes).
        var table = new Azure.Data.Tables.TableClient(azurite.ConnectionString, "alertstoretest");
        var row = new Azure.Data.Tables.TableEntity($"{service}_alertlog_000000000000", 2L.ToString("D19", System.Globalization.CultureInfo.InvariantCulture))
        {
            ["Alert"] = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(Change("al-2", 2), AlertJsonContext.Default.Alert),
        };
        await table.UpsertEntityAsync(row, cancellationToken: TestContext.Current.CancellationToken);
        var (alerts, last) = await Store(service).LoadAsync(TestContext.Current.CancellationToken);
        Assert.Single(alerts);
        Assert.Equal(2, last);
    }
}
