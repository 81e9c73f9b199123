using Azure.Storage.Blobs;
using CsMetrics.Storage.AzureTable.Log;
using CsMetrics.Storage.AzureTable.Tests.Storage;
using CsMetrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace CsMetrics.Storage.AzureTable.Tests.Log;

/// <summary>
/// The write-ahead log's contract against a real Azurite, for both stores: append blobs (the
/// default) and table entities. Nothing appended and acknowledged is lost, nothing is read twice,
/// entries come back in sequence order, and deleting what the accounts checkpointed leaves nothing.
/// </summary>
[Collection(AzuriteTests.Name)]
public class EventLogTests(Azurite azurite)
{
    public static TheoryData<string> Stores => ["blob", "table"];

    private IEventLog Open(string store, string service, string? logId = null) => store == "blob"
        ? new AzureBlobEventLog(azurite.ConnectionString, "logtest", service, logId ?? Guid.NewGuid().ToString("N"), TimeSpan.FromSeconds(10), NullLogger.Instance)
        : new AzureTableEventLog(azurite.ConnectionString, "logtest", service, logId ?? Guid.NewGuid().ToString("N"), TimeSpan.FromSeconds(10), NullLogger.Instance);

    private static string Service() => $"svc{Guid.NewGuid():N}"[..12];

    /// <summary>Payloads of many sizes, up to past one table property (64 KB), each naming its index.</summary>
    private static byte[] Payload(int i)
    {
        var size = i % 7 == 0 ? 70_000 + i : 20 + i % 300;
        var bytes = new byte[size];
        new Random(i).NextBytes(bytes);
        BitConverter.TryWriteBytes(bytes, i);
        return bytes;
    }

    private static async Task<List<LogEntry>> AllAsync(IEventLog log, CancellationToken ct)
    {
        var entries = new List<LogEntry>();
        await foreach (var e in log.ReadAllAsync(ct))
        {
            entries.Add(e);
        }
        return entries;
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task ConcurrentAppends_AreAllRead_InSequenceOrder_ByAnotherNode(string store)
    {
        var ct = TestContext.Current.CancellationToken;
        var service = Service();
        await using var writer = Open(store, service);
        await writer.CreateIfNotExistsAsync(ct);
        // Appends waiting together go out as one write (group commit): 200 at once, 8 threads.
        var sequences = new long[200];
        await Parallel.ForEachAsync(Enumerable.Range(0, 200), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct },
            async (i, _) => sequences[i] = await writer.AppendAsync(Payload(i), ct));
        Assert.Equal(200, sequences.Distinct().Count());

        await using var reader = Open(store, service);
        var entries = await AllAsync(reader, ct);
        Assert.Equal(200, entries.Count);
        Assert.All(entries, e => Assert.Equal(writer.LogId, e.LogId));
        Assert.Equal(entries.Select(e => e.Sequence).Order(), entries.Select(e => e.Sequence));
        for (var i = 0; i < 200; i++)
        {
            var entry = entries.Single(e => e.Sequence == sequences[i]);
            Assert.Equal(Payload(i), entry.Payload.ToArray());
        }

        var oneLog = new List<LogEntry>();
        await foreach (var e in reader.ReadLogAsync(writer.LogId, ct))
        {
            oneLog.Add(e);
        }
        Assert.Equal(entries.Select(e => e.Sequence), oneLog.Select(e => e.Sequence));

        var some = await reader.ReadAsync(writer.LogId, [sequences[3], sequences[7], 999_999], ct);
        Assert.Equal(new[] { sequences[3], sequences[7] }.Order(), some.Select(e => e.Sequence).Order());
        Assert.Equal(Payload(7), some.Single(e => e.Sequence == sequences[7]).Payload.ToArray());
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task DeletingWhatWasAppended_LeavesNothing_AndLaterAppendsAreKept(string store)
    {
        var ct = TestContext.Current.CancellationToken;
        var service = Service();
        await using var writer = Open(store, service);
        await writer.CreateIfNotExistsAsync(ct);
        var first = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => writer.AppendAsync(Payload(i), ct)));

        // A round that covers only some entries keeps the rest (a blob segment waits for all of them).
        await writer.DeleteAsync(writer.LogId, first[..10], ct);
        await using (var reader = Open(store, service))
        {
            var left = (await AllAsync(reader, ct)).Select(e => e.Sequence).ToHashSet();
            Assert.Superset(first[10..].ToHashSet(), left);
        }

        await writer.DeleteAsync(writer.LogId, first[10..], ct);
        await using (var reader = Open(store, service))
        {
            Assert.Empty(await AllAsync(reader, ct));
        }

        // The log goes on after a truncation (for blobs, in a new segment).
        var later = await writer.AppendAsync(Payload(99), ct);
        await using (var reader = Open(store, service))
        {
            var entries = await AllAsync(reader, ct);
            Assert.Equal([later], entries.Select(e => e.Sequence));
            Assert.Equal(Payload(99), entries[0].Payload.ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task ReplayingAnotherNodesLog_AndDeletingIt_NeverLosesWhatThatNodeAppendedAfterTheRead(string store)
    {
        var ct = TestContext.Current.CancellationToken;
        var service = Service();
        await using var live = Open(store, service);
        await live.CreateIfNotExistsAsync(ct);
        var before = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => live.AppendAsync(Payload(i), ct)));

        // A node starting up replays every log, this live one's too...
        await using var starting = Open(store, service);
        var replayed = await AllAsync(starting, ct);
        Assert.Equal(before.Order(), replayed.Select(e => e.Sequence));

        // ...while the live node appends more, then deletes what it replayed.
        var after = await Task.WhenAll(Enumerable.Range(10, 5).Select(i => live.AppendAsync(Payload(i), ct)));
        await starting.DeleteAsync(live.LogId, replayed.Select(e => e.Sequence).ToList(), ct);

        await using var check = Open(store, service);
        var left = (await AllAsync(check, ct)).Select(e => e.Sequence).ToHashSet();
        Assert.Superset(after.ToHashSet(), left);
        var nowAppended = await live.AppendAsync(Payload(50), ct);
        Assert.Contains(nowAppended, (await AllAsync(check, ct)).Select(e => e.Sequence));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task Heartbeats_ListEveryLog_UntilRemoved(string store)
    {
        var ct = TestContext.Current.CancellationToken;
        var service = Service();
        await using var a = Open(store, service);
        await using var b = Open(store, service);
        await a.CreateIfNotExistsAsync(ct);
        var at = new DateTimeOffset(2026, 12, 1, 9, 30, 15, TimeSpan.Zero);
        await a.HeartbeatAsync(at, ct);
        await b.HeartbeatAsync(at.AddSeconds(5), ct);

        var owners = (await a.OwnersAsync(ct)).ToDictionary(o => o.LogId, o => o.At);
        Assert.Equal(2, owners.Count);
        Assert.Equal(at, owners[a.LogId]);
        Assert.Equal(at.AddSeconds(5), owners[b.LogId]);

        await a.RemoveOwnerAsync(b.LogId, ct);
        Assert.Equal([a.LogId], (await b.OwnersAsync(ct)).Select(o => o.LogId));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task UnreachableStorage_FailsTheAppend_SoNothingIsAcknowledged(string store)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var log = store == "blob"
            ? new AzureBlobEventLog(Azurite.Unreachable(1), "logtest", Service(), "x", TimeSpan.FromSeconds(1), NullLogger.Instance)
            : (IEventLog)new AzureTableEventLog(Azurite.Unreachable(1), "logtest", Service(), "x", TimeSpan.FromSeconds(1), NullLogger.Instance);
        await Assert.ThrowsAsync<LogUnavailableException>(() => log.AppendAsync(Payload(1), ct));
    }

    [Fact]
    public async Task BlobLog_AfterAFailedAppend_StartsANewSegment_AndLosesNothingAcknowledged()
    {
        var ct = TestContext.Current.CancellationToken;
        var service = Service();
        await using var log = Open("blob", service);
        await log.CreateIfNotExistsAsync(ct);
        var kept = await log.AppendAsync(Payload(1), ct);

        // The segment being appended to disappears (storage lost it, or a node that adopted this log deleted it).
        var container = new BlobServiceClient(azurite.ConnectionString).GetBlobContainerClient("logtest");
        await foreach (var blob in container.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = $"{service}/logs/" }, ct))
        {
            await container.DeleteBlobAsync(blob.Name, cancellationToken: ct);
        }
        await Assert.ThrowsAsync<LogUnavailableException>(() => log.AppendAsync(Payload(2), ct));

        var next = await log.AppendAsync(Payload(3), ct);
        Assert.True(next > kept);
        await using var reader = Open("blob", service);
        var entries = await AllAsync(reader, ct);
        Assert.Equal([next], entries.Select(e => e.Sequence));
        Assert.Equal(Payload(3), entries[0].Payload.ToArray());
    }
}
