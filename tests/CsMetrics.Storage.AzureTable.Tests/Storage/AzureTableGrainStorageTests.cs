using Azure.Data.Tables;
using CsMetrics.Storage.AzureTable.Hosting;
using CsMetrics.Storage.AzureTable.Storage;
using CsMetrics.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Serialization;
using Orleans.Storage;

namespace CsMetrics.Storage.AzureTable.Tests.Storage;

[GenerateSerializer, Alias("csm.test.TestState")]
public sealed class TestState
{
    [Id(0)] public string Text { get; set; } = "";
    [Id(1)] public byte[] Payload { get; set; } = [];
    [Id(2)] public int Version { get; set; }
}

[CollectionDefinition(Name)]
public sealed class AzuriteTests : ICollectionFixture<Azurite>
{
    public const string Name = "azurite";
}

/// <summary>The provider conformance suite, against a real Azurite.</summary>
[Collection(AzuriteTests.Name)]
public class AzureTableGrainStorageTests(Azurite azurite)
{
    private static readonly IGrainStorageSerializer Serializer =
        new OrleansGrainStorageSerializer(new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>());

    private async Task<AzureTableGrainStorage> ProviderAsync(string? table = null, int buckets = 256, long prefetchBudget = 256L * 1024 * 1024, int tables = 1, bool packed = false, int packBytes = 512 * 1024)
    {
        var options = new AzureTableStorageOptions
        {
            ConnectionString = azurite.ConnectionString,
            TableName = table ?? "conformance",
            GrainStorageSerializer = Serializer,
            PartitionBuckets = buckets,
            PrefetchBudgetBytes = prefetchBudget,
            TableShards = tables,
            PackedStates = packed ? "account" : "",
            PackBytes = packBytes,
        };
        var storage = new AzureTableGrainStorage("test", options, "svc", NullLogger<AzureTableGrainStorage>.Instance);
        await storage.InitializeAsync(TestContext.Current.CancellationToken);
        return storage;
    }

    private static GrainId NewGrain() => GrainId.Create("account", $"acct/{Guid.NewGuid():N}#?");

    private static GrainState<TestState> State(string text, int size = 0) =>
        new(new TestState { Text = text, Payload = [.. Enumerable.Range(0, size).Select(i => (byte)(i * 31))] });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Read_Missing_GivesAFreshStateWithNoETag(bool packed)
    {
        var storage = await ProviderAsync(packed: packed);
        var state = new GrainState<TestState>();
        await storage.ReadStateAsync("account", NewGrain(), state);
        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);
        Assert.NotNull(state.State);
        Assert.Equal("", state.State!.Text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Write_ThenRead_RoundTripsAndTracksTheETag(bool packed)
    {
        var storage = await ProviderAsync(packed: packed);
        var grain = NewGrain();
        var written = State("hello", 1000);
        await storage.WriteStateAsync("account", grain, written);
        Assert.True(written.RecordExists);
        Assert.NotNull(written.ETag);

        var read = new GrainState<TestState>();
        await storage.ReadStateAsync("account", grain, read);
        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        Assert.Equal("hello", read.State!.Text);
        Assert.Equal(written.State!.Payload, read.State!.Payload);

        read.State!.Text = "updated";
        await storage.WriteStateAsync("account", grain, read);
        Assert.NotEqual(written.ETag, read.ETag);
        var again = new GrainState<TestState>();
        await storage.ReadStateAsync("account", grain, again);
        Assert.Equal("updated", again.State!.Text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Write_WithAStaleETag_IsInconsistent(bool packed)
    {
        var storage = await ProviderAsync(packed: packed);
        var grain = NewGrain();
        var first = State("v1");
        await storage.WriteStateAsync("account", grain, first);
        var stale = new GrainState<TestState>(first.State) { ETag = first.ETag, RecordExists = true };
        first.State!.Text = "v2";
        await storage.WriteStateAsync("account", grain, first);

        stale.State = new TestState { Text = "lost update" };
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("account", grain, stale));
        var read = new GrainState<TestState>();
        await storage.ReadStateAsync("account", grain, read);
        Assert.Equal("v2", read.State!.Text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Insert_WhenARowAlreadyExists_IsInconsistent(bool packed)
    {
        var storage = await ProviderAsync(packed: packed);
        var grain = NewGrain();
        await storage.WriteStateAsync("account", grain, State("first"));
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("account", grain, State("second, no etag")));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Clear_ThenRead_IsMissing(bool packed)
    {
        var storage = await ProviderAsync(packed: packed);
        var grain = NewGrain();
        var state = State("to clear");
        await storage.WriteStateAsync("account", grain, state);
        await storage.ClearStateAsync("account", grain, state);
        Assert.Null(state.ETag);
        Assert.False(state.RecordExists);

        var read = new GrainState<TestState>();
        await storage.ReadStateAsync("account", grain, read);
        Assert.False(read.RecordExists);

        // After a clear, a fresh write inserts again.
        await storage.WriteStateAsync("account", grain, State("after clear"));
        await storage.ReadStateAsync("account", grain, read);
        Assert.Equal("after clear", read.State!.Text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ConcurrentWriters_ExactlyOneWinsEachRound(bool packed)
    {
        var storage = await ProviderAsync(packed: packed);
        var grain = NewGrain();
        var seed = State("seed");
        await storage.WriteStateAsync("account", grain, seed);
        for (var round = 0; round < 5; round++)
        {
            var current = new GrainState<TestState>();
            await storage.ReadStateAsync("account", grain, current);
            var writers = Enumerable.Range(0, 8).Select(w => new GrainState<TestState>(new TestState { Text = $"r{round}w{w}" }) { ETag = current.ETag, RecordExists = true }).ToArray();
            var results = await Task.WhenAll(writers.Select(async w =>
            {
                try
                {
                    await storage.WriteStateAsync("account", grain, w);
                    return w.State!.Text;
                }
                catch (InconsistentStateException)
                {
                    return null;
                }
            }));
            var winner = Assert.Single(results, r => r is not null);
            var read = new GrainState<TestState>();
            await storage.ReadStateAsync("account", grain, read);
            Assert.Equal(winner, read.State!.Text);
        }
    }

    [Fact]
    public async Task LargeState_IsSplitAcrossPropertiesAndReadBackWhole()
    {
        var storage = await ProviderAsync();
        var grain = NewGrain();
        var big = State("big", 700_000);
        await storage.WriteStateAsync("account", grain, big);

        var (pk, rk) = storage.Keys("account", grain);
        var entity = (await storage.Table.GetEntityAsync<TableEntity>(pk, rk, cancellationToken: TestContext.Current.CancellationToken)).Value;
        Assert.NotNull(entity.GetBinary("Data10"));
        Assert.Null(entity.GetBinary("Data11"));

        var read = new GrainState<TestState>();
        await storage.ReadStateAsync("account", grain, read);
        Assert.Equal(big.State!.Payload, read.State!.Payload);

        // Shrinking replaces the whole entity: no stale chunk survives.
        read.State!.Payload = [1, 2, 3];
        await storage.WriteStateAsync("account", grain, read);
        entity = (await storage.Table.GetEntityAsync<TableEntity>(pk, rk, cancellationToken: TestContext.Current.CancellationToken)).Value;
        Assert.Null(entity.GetBinary("Data1"));
        await storage.ReadStateAsync("account", grain, read);
        Assert.Equal([1, 2, 3], read.State!.Payload);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StateJustUnderTheLimit_IsStoredByAzurite_AndReadsBack(bool packed)
    {
        // The provider's own limit must come before the storage's: Azurite weighs binary as base64.
        var storage = await ProviderAsync(packed: packed);
        var grain = NewGrain();
        var largest = State("largest", AzureTableStorageOptions.MaxStateBytes - 1024);
        await storage.WriteStateAsync("account", grain, largest);
        var read = new GrainState<TestState>();
        await storage.ReadStateAsync("account", grain, read);
        Assert.Equal(largest.State!.Payload, read.State!.Payload);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StatePastTheEntityLimit_IsRejectedClearlyAndNothingIsWritten(bool packed)
    {
        var storage = await ProviderAsync(packed: packed);
        var grain = NewGrain();
        var tooBig = State("too big", AzureTableStorageOptions.MaxStateBytes + 1);
        var e = await Assert.ThrowsAsync<StateTooLargeException>(() => storage.WriteStateAsync("account", grain, tooBig));
        Assert.Contains($"at most {AzureTableStorageOptions.MaxStateBytes} bytes", e.Message, StringComparison.Ordinal);
        var read = new GrainState<TestState>();
        await storage.ReadStateAsync("account", grain, read);
        Assert.False(read.RecordExists);
    }

    [Fact]
    public async Task GrainIdsThatSanitiseAlike_NeverShareARow()
    {
        var storage = await ProviderAsync($"sanitise{Guid.NewGuid():N}"[..20]); // fixed ids: a table of its own
        var a = GrainId.Create("account", "a/b");
        var b = GrainId.Create("account", "a_b");
        Assert.NotEqual(storage.Keys("account", a), storage.Keys("account", b));
        await storage.WriteStateAsync("account", a, State($"a-{Guid.NewGuid()}"));
        var read = new GrainState<TestState>();
        await storage.ReadStateAsync("account", b, read);
        Assert.Equal("", read.State!.Text);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ManyGrainsOfFewBuckets_WriteTogetherAndReadBackThroughPartitionPages(bool packed)
    {
        var table = $"buckets{Guid.NewGuid():N}"[..20];
        var writer = await ProviderAsync(table, buckets: 4, packed: packed);
        var grains = Enumerable.Range(0, 300).Select(_ => NewGrain()).ToArray();
        var states = grains.Select((g, i) => State($"g{i}", 100)).ToArray();
        await Task.WhenAll(grains.Select((g, i) => writer.WriteStateAsync("account", g, states[i])));
        Assert.All(states, s => Assert.NotNull(s.ETag));

        // A fresh provider (a restarted silo) reads them through whole-partition pages.
        var reader = await ProviderAsync(table, buckets: 4, packed: packed);
        var read = grains.Select(_ => new GrainState<TestState>()).ToArray();
        await Task.WhenAll(grains.Select((g, i) => reader.ReadStateAsync("account", g, read[i])));
        for (var i = 0; i < grains.Length; i++)
        {
            Assert.Equal($"g{i}", read[i].State!.Text);
            Assert.Equal(states[i].ETag, read[i].ETag);
        }

        // The ETags from batched writes are real: conditional updates succeed, stale ones do not.
        await Task.WhenAll(read.Select((s, i) => { s.State!.Text = $"g{i}+"; return reader.WriteStateAsync("account", grains[i], s); }));
        await Assert.ThrowsAsync<InconsistentStateException>(() => writer.WriteStateAsync("account", grains[0], states[0]));
        var check = new GrainState<TestState>();
        var third = await ProviderAsync(table, buckets: 4, packed: packed);
        await third.ReadStateAsync("account", grains[7], check);
        Assert.Equal("g7+", check.State!.Text);
        var missing = new GrainState<TestState>();
        await reader.ReadStateAsync("account", NewGrain(), missing);
        Assert.False(missing.RecordExists);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PartitionPages_ServeEachRowOnce_AndRowsWrittenAfterTheReadComeFromStorage(bool packed)
    {
        var table = $"pages{Guid.NewGuid():N}"[..20];
        var writer = await ProviderAsync(table, buckets: 1, packed: packed);
        var grains = Enumerable.Range(0, 20).Select(_ => NewGrain()).ToArray();
        await Task.WhenAll(grains.Select((g, i) => writer.WriteStateAsync("account", g, State($"g{i}", 1000))));

        var reader = await ProviderAsync(table, buckets: 1, packed: packed);
        var first = new GrainState<TestState>();
        await reader.ReadStateAsync("account", grains[0], first);
        Assert.Equal("g0", first.State!.Text);
        var held = reader.PrefetchedBytes;
        Assert.InRange(held, 19 * 1000, 20 * 2000); // the other 19 rows wait for their activations

        // A grain that was missing when the page was read, then written here, is found afterwards.
        var late = NewGrain();
        var missing = new GrainState<TestState>();
        await reader.ReadStateAsync("account", late, missing);
        Assert.False(missing.RecordExists);
        missing.State!.Text = "written after the page";
        await reader.WriteStateAsync("account", late, missing);
        var again = new GrainState<TestState>();
        await reader.ReadStateAsync("account", late, again);
        Assert.Equal("written after the page", again.State!.Text);

        // A row served from the page and written since is read from storage on its next activation.
        first.State.Text = "g0 changed";
        await reader.WriteStateAsync("account", grains[0], first);
        var reactivated = new GrainState<TestState>();
        await reader.ReadStateAsync("account", grains[0], reactivated);
        Assert.Equal("g0 changed", reactivated.State!.Text);

        // Serving every row releases the page.
        for (var i = 1; i < grains.Length; i++)
        {
            var s = new GrainState<TestState>();
            await reader.ReadStateAsync("account", grains[i], s);
            Assert.Equal($"g{i}", s.State!.Text);
        }
        Assert.Equal(0, reader.PrefetchedBytes);
    }

    [Fact]
    public async Task PastThePrefetchBudget_ActivationsReadTheirOwnRows()
    {
        var table = $"budget{Guid.NewGuid():N}"[..20];
        var writer = await ProviderAsync(table, buckets: 8);
        var grains = Enumerable.Range(0, 64).Select(_ => NewGrain()).ToArray();
        await Task.WhenAll(grains.Select((g, i) => writer.WriteStateAsync("account", g, State($"g{i}", 500))));

        var reader = await ProviderAsync(table, buckets: 8, prefetchBudget: 1);
        var largestPartition = grains.GroupBy(g => reader.Keys("account", g).PartitionKey).Max(p => p.Count());
        var read = grains.Select(_ => new GrainState<TestState>()).ToArray();
        long mostHeld = 0;
        for (var i = 0; i < grains.Length; i++)
        {
            await reader.ReadStateAsync("account", grains[i], read[i]);
            Assert.Equal($"g{i}", read[i].State!.Text);
            mostHeld = Math.Max(mostHeld, reader.PrefetchedBytes);
        }
        // Unbounded, the pages of all 8 partitions would wait here at once (about 64 rows of 500 bytes).
        Assert.InRange(mostHeld, 1, largestPartition * 1000);
    }

    [Fact]
    public async Task PartitionPerGrainLayout_RoundTrips()
    {
        var storage = await ProviderAsync(buckets: 0);
        var grain = NewGrain();
        Assert.Contains(TableKeys.Escape(grain.ToString()), storage.Keys("account", grain).PartitionKey, StringComparison.Ordinal);
        var state = State("upstream layout");
        await storage.WriteStateAsync("account", grain, state);
        var read = new GrainState<TestState>();
        await storage.ReadStateAsync("account", grain, read);
        Assert.Equal("upstream layout", read.State!.Text);
        Assert.Equal(state.ETag, read.ETag);
    }

    [Fact]
    public async Task StateSpreadOverTables_RoundTrips_EachPartitionInOneTable_AndStaleETagsStillConflict()
    {
        var ct = TestContext.Current.CancellationToken;
        var table = $"shards{Guid.NewGuid():N}"[..20];
        var storage = await ProviderAsync(table, buckets: 16, tables: 4);
        var grains = Enumerable.Range(0, 40).Select(_ => NewGrain()).ToList();
        var states = new List<GrainState<TestState>>();
        foreach (var grain in grains)
        {
            var state = State($"state of {grain}", 100);
            await storage.WriteStateAsync("account", grain, state);
            states.Add(state);
        }

        // Each grain's entity is in the table of its partition's bucket, and only there.
        var perTable = new List<List<TableEntity>>();
        foreach (var client in storage.Tables)
        {
            perTable.Add(await client.QueryAsync<TableEntity>(e => e.RowKey != "tables", cancellationToken: ct).ToListAsync(ct));
        }
        Assert.Equal(40, perTable.Sum(t => t.Count));
        Assert.True(perTable.Count(t => t.Count > 0) > 1, "40 grains over 16 buckets should reach more than one of the 4 tables");
        for (var i = 0; i < perTable.Count; i++)
        {
            Assert.All(perTable[i], e => Assert.Equal(i, storage.ShardOf(e.PartitionKey)));
        }

        for (var i = 0; i < grains.Count; i++)
        {
            var read = new GrainState<TestState>();
            await storage.ReadStateAsync("account", grains[i], read);
            Assert.Equal($"state of {grains[i]}", read.State!.Text);
            Assert.Equal(states[i].ETag, read.ETag);
        }
        var stale = new GrainState<TestState>(new TestState { Text = "stale" }) { ETag = states[0].ETag, RecordExists = true };
        await storage.WriteStateAsync("account", grains[0], states[0]);
        await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("account", grains[0], stale));
        await storage.ClearStateAsync("account", grains[1], states[1]);
        var cleared = new GrainState<TestState>();
        await storage.ReadStateAsync("account", grains[1], cleared);
        Assert.False(cleared.RecordExists);
    }

    [Fact]
    public async Task ADifferentNumberOfTables_ThanTheStateWasWrittenWith_RefusesToStart_NamingTheSetting()
    {
        var table = $"layout{Guid.NewGuid():N}"[..20];
        var first = await ProviderAsync(table, buckets: 16, tables: 1);
        await first.WriteStateAsync("account", NewGrain(), State("written across one table"));
        var error = await Assert.ThrowsAsync<StorageLayoutException>(() => ProviderAsync(table, buckets: 16, tables: 4));
        Assert.StartsWith("AzureTableStorage:TableShards: 4, but the grain state of service \"svc\" in table " + table + " was written across 1 table(s)", error.Message, StringComparison.Ordinal);
        // The same number again starts.
        await ProviderAsync(table, buckets: 16, tables: 1);
    }

    [Fact]
    public async Task StateWrittenBeforeTheLayoutWasRecorded_CountsAsOneTable()
    {
        // What a node from before this setting left: state in bucket partitions of one table, no record.
        var table = $"legacy{Guid.NewGuid():N}"[..20];
        var client = new TableClient(azurite.ConnectionString, table);
        await client.CreateIfNotExistsAsync(TestContext.Current.CancellationToken);
        await client.AddEntityAsync(new TableEntity("svc_b0007", "account%2Fold%%account") { ["StateBytes"] = 0, ["Data"] = Array.Empty<byte>() }, TestContext.Current.CancellationToken);

        var error = await Assert.ThrowsAsync<StorageLayoutException>(() => ProviderAsync(table, buckets: 16, tables: 16));
        Assert.Contains("was written across 1 table(s); set AzureTableStorage:TableShards to 1", error.Message, StringComparison.Ordinal);
        await ProviderAsync(table, buckets: 16, tables: 1);
    }

    [Fact]
    public async Task Unreachable_StartsWithoutThrowingAndFailsCallsClearly()
    {
        var options = new AzureTableStorageOptions
        {
            ConnectionString = Azurite.Unreachable(1),
            GrainStorageSerializer = Serializer,
            RequestTimeout = TimeSpan.FromSeconds(1),
        };
        var storage = new AzureTableGrainStorage("test", options, "svc", NullLogger<AzureTableGrainStorage>.Instance);
        await storage.InitializeAsync(TestContext.Current.CancellationToken);
        await Assert.ThrowsAnyAsync<Exception>(() => storage.ReadStateAsync("account", NewGrain(), new GrainState<TestState>()));
    }

    private static async Task<(int Packs, int Rows, int Heads)> CountAsync(AzureTableGrainStorage storage)
    {
        var (packs, rows, heads) = (0, 0, 0);
        await foreach (var e in storage.Table.QueryAsync<TableEntity>(select: ["PartitionKey", "RowKey"], cancellationToken: TestContext.Current.CancellationToken))
        {
            if (e.PartitionKey.EndsWith("_layout", StringComparison.Ordinal))
            {
                continue;
            }
            _ = e.RowKey.StartsWith("~pack~", StringComparison.Ordinal) ? packs++ : e.RowKey == "~head" ? heads++ : rows++;
        }
        return (packs, rows, heads);
    }

    [Fact]
    public async Task PackedStates_WrittenTogether_TakeAFewEntities_AndSupersededPacksAreDeleted()
    {
        var table = $"packs{Guid.NewGuid():N}"[..20];
        var storage = await ProviderAsync(table, buckets: 4, packed: true);
        var grains = Enumerable.Range(0, 400).Select(_ => NewGrain()).ToArray();
        var states = grains.Select((g, i) => State($"g{i}", 200)).ToArray();
        for (var round = 0; round < 4; round++)
        {
            foreach (var (s, i) in states.Select((s, i) => (s, i)))
            {
                s.State!.Text = $"g{i}r{round}";
            }
            await Task.WhenAll(grains.Select((g, i) => storage.WriteStateAsync("account", g, states[i])));
        }
        var (packs, rows, heads) = await CountAsync(storage);
        Assert.Equal(0, rows);
        Assert.Equal(4, heads);
        // 400 states a round: as rows, 400 entities. Packs of earlier rounds are gone once nothing points into them.
        Assert.InRange(packs, 4, 40);

        var reader = await ProviderAsync(table, buckets: 4, packed: true);
        var read = grains.Select(_ => new GrainState<TestState>()).ToArray();
        await Task.WhenAll(grains.Select((g, i) => reader.ReadStateAsync("account", g, read[i])));
        for (var i = 0; i < grains.Length; i++)
        {
            Assert.Equal($"g{i}r3", read[i].State!.Text);
            Assert.Equal(states[i].ETag, read[i].ETag);
        }
    }

    [Fact]
    public async Task PackedStates_TwoNodes_StayConditionalPerGrain()
    {
        var table = $"packs2{Guid.NewGuid():N}"[..20];
        var nodeA = await ProviderAsync(table, buckets: 1, packed: true);
        var nodeB = await ProviderAsync(table, buckets: 1, packed: true);
        var (g1, g2) = (NewGrain(), NewGrain());
        var onA = State("a1");
        await nodeA.WriteStateAsync("account", g1, onA);

        var onB = new GrainState<TestState>();
        await nodeB.ReadStateAsync("account", g1, onB);
        Assert.Equal("a1", onB.State!.Text);
        onA.State!.Text = "a2";
        await nodeA.WriteStateAsync("account", g1, onA);

        // B's copy of g1 is stale: refused, though B's view of the partition's index is older than A's write.
        onB.State!.Text = "lost update";
        await Assert.ThrowsAsync<InconsistentStateException>(() => nodeB.WriteStateAsync("account", g1, onB));
        // Another grain of the same partition writes from B; then A, whose index copy is now stale, writes g1 again.
        await nodeB.WriteStateAsync("account", g2, State("b1"));
        onA.State!.Text = "a3";
        await nodeA.WriteStateAsync("account", g1, onA);

        var fresh = await ProviderAsync(table, buckets: 1, packed: true);
        var (r1, r2) = (new GrainState<TestState>(), new GrainState<TestState>());
        await fresh.ReadStateAsync("account", g1, r1);
        await fresh.ReadStateAsync("account", g2, r2);
        Assert.Equal(("a3", "b1"), (r1.State!.Text, r2.State!.Text));
        Assert.Equal(onA.ETag, r1.ETag);

        // B writes g2 again; then g2 moves to A, which reads B's version: A's write must succeed though
        // A's copy of the index (from its last write) predates that version.
        var onB2 = new GrainState<TestState>();
        await (await ProviderAsync(table, buckets: 1, packed: true)).ReadStateAsync("account", g2, onB2);
        onB2.State!.Text = "b2";
        await nodeB.WriteStateAsync("account", g2, onB2);
        var moved = new GrainState<TestState>();
        await (await ProviderAsync(table, buckets: 1, packed: true)).ReadStateAsync("account", g2, moved);
        moved.State!.Text = "a-after-move";
        await nodeA.WriteStateAsync("account", g2, moved);
        var after = new GrainState<TestState>();
        await (await ProviderAsync(table, buckets: 1, packed: true)).ReadStateAsync("account", g2, after);
        Assert.Equal("a-after-move", after.State!.Text);
    }

    [Fact]
    public async Task PackedStates_ARowFromBeforePacking_IsReadThenReplacedByItsFirstPackedWrite()
    {
        var table = $"packs3{Guid.NewGuid():N}"[..20];
        var before = await ProviderAsync(table, buckets: 2);
        var (kept, raced) = (NewGrain(), NewGrain());
        await before.WriteStateAsync("account", kept, State("as a row"));
        await before.WriteStateAsync("account", raced, State("as a row too"));

        var after = await ProviderAsync(table, buckets: 2, packed: true);
        var state = new GrainState<TestState>();
        await after.ReadStateAsync("account", kept, state);
        Assert.Equal("as a row", state.State!.Text);
        state.State!.Text = "packed now";
        await after.WriteStateAsync("account", kept, state);

        // The row changed after this read: the packed write that would replace it conflicts.
        var stale = new GrainState<TestState>();
        await after.ReadStateAsync("account", raced, stale);
        var other = new GrainState<TestState>();
        await (await ProviderAsync(table, buckets: 2)).ReadStateAsync("account", raced, other);
        other.State!.Text = "changed as a row";
        await before.WriteStateAsync("account", raced, other);
        stale.State!.Text = "lost update";
        await Assert.ThrowsAsync<InconsistentStateException>(() => after.WriteStateAsync("account", raced, stale));

        var (packs, rows, _) = await CountAsync(after);
        Assert.Equal((1, 1), (packs, rows)); // kept's row is gone; raced's stays a row
        var fresh = await ProviderAsync(table, buckets: 2, packed: true);
        var (r1, r2) = (new GrainState<TestState>(), new GrainState<TestState>());
        await fresh.ReadStateAsync("account", kept, r1);
        await fresh.ReadStateAsync("account", raced, r2);
        Assert.Equal(("packed now", "changed as a row"), (r1.State!.Text, r2.State!.Text));
    }

    [Fact]
    public async Task PackedStates_ManyTinyStates_CountTheirKeysTowardAPack()
    {
        var table = $"packs5{Guid.NewGuid():N}"[..20];
        var storage = await ProviderAsync(table, buckets: 1, packed: true, packBytes: 16 * 1024);
        var grains = Enumerable.Range(0, 600).Select(_ => NewGrain()).ToArray();
        var states = grains.Select((g, i) => State($"{i}")).ToArray();
        await Task.WhenAll(grains.Select((g, i) => storage.WriteStateAsync("account", g, states[i])));
        var dataBytes = states.Sum(s => Serializer.Serialize(s.State).ToMemory().Length);
        var keyBytes = grains.Sum(g => PackedPartitions.Overhead(storage.Keys("account", g).RowKey));
        Assert.True(dataBytes < 2 * 16 * 1024, $"the states alone ({dataBytes} B) should fit in two packs");
        var (packs, _, _) = await CountAsync(storage);
        // Counted with their keys (about 100 bytes each here) they need more: a pack never outgrows an entity however small its states.
        Assert.InRange(packs, (dataBytes + keyBytes) / (16 * 1024), 600);
        var fresh = await ProviderAsync(table, buckets: 1, packed: true, packBytes: 16 * 1024);
        var read = new GrainState<TestState>();
        await fresh.ReadStateAsync("account", grains[599], read);
        Assert.Equal("599", read.State!.Text);
    }

    [Fact]
    public async Task PackedStates_AMostlySupersededPack_IsCompactedIntoTheNextOne()
    {
        var table = $"packs4{Guid.NewGuid():N}"[..20];
        var storage = await ProviderAsync(table, buckets: 1, packed: true);
        var grains = Enumerable.Range(0, 40).Select(_ => NewGrain()).ToArray();
        var states = grains.Select((g, i) => State($"g{i}", 100)).ToArray();
        await Task.WhenAll(grains.Select((g, i) => storage.WriteStateAsync("account", g, states[i])));
        // Most grains move on, one write at a time (a pack each); the first packs keep only a few live states.
        for (var i = 0; i < 36; i++)
        {
            states[i].State!.Text = $"g{i}+";
            await storage.WriteStateAsync("account", grains[i], states[i]);
        }
        var (packs, _, _) = await CountAsync(storage);
        // Without compaction: 36 single-state packs, and the packs of the first writes still holding g36..g39.
        Assert.InRange(packs, 1, 12);

        var fresh = await ProviderAsync(table, buckets: 1, packed: true);
        for (var i = 0; i < grains.Length; i++)
        {
            var r = new GrainState<TestState>();
            await fresh.ReadStateAsync("account", grains[i], r);
            Assert.Equal(i < 36 ? $"g{i}+" : $"g{i}", r.State!.Text);
            Assert.Equal(states[i].ETag, r.ETag);
        }
    }
}

public class AzureTableStorageOptionsValidatorTests
{
    [Fact]
    public void Validate_NamesEveryBadSettingAndNeverEchoesTheSecret()
    {
        var validator = new AzureTableStorageOptionsValidator("CsMetrics:Storage:AzureTable");
        var result = validator.Validate("x", new AzureTableStorageOptions { ConnectionString = "AccountKey=s3cret;nonsense", TableName = "1bad-name", RequestTimeout = TimeSpan.Zero });
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.StartsWith("CsMetrics:Storage:AzureTable:ConnectionString: not a valid", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.StartsWith("CsMetrics:Storage:AzureTable:TableName: expected", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.StartsWith("CsMetrics:Storage:AzureTable:RequestTimeout:", StringComparison.Ordinal));
        Assert.DoesNotContain("s3cret", result.FailureMessage, StringComparison.Ordinal);
        Assert.Contains(validator.Validate("x", new AzureTableStorageOptions()).Failures!, f => f.StartsWith("CsMetrics:Storage:AzureTable:ConnectionString: required", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0, 256, "CsMetrics:Storage:AzureTable:TableShards: expected 1 to 64 tables, got 0")]
    [InlineData(65, 256, "CsMetrics:Storage:AzureTable:TableShards: expected 1 to 64 tables, got 65")]
    [InlineData(8, 4, "CsMetrics:Storage:AzureTable:TableShards: 8 tables need PartitionBuckets of at least as many")]
    public void Validate_TableShards_NamesTheSettingAndWhatIsExpected(int tables, int buckets, string expected)
    {
        var validator = new AzureTableStorageOptionsValidator("CsMetrics:Storage:AzureTable");
        var result = validator.Validate("x", new AzureTableStorageOptions { ConnectionString = "UseDevelopmentStorage=true", TableShards = tables, PartitionBuckets = buckets });
        Assert.Contains(result.Failures!, f => f.StartsWith(expected, StringComparison.Ordinal));
        Assert.True(validator.Validate("x", new AzureTableStorageOptions { ConnectionString = "UseDevelopmentStorage=true", TableShards = 16 }).Succeeded);
        // With a partition per grain the state stays in one table, whatever TableShards says.
        Assert.True(validator.Validate("x", new AzureTableStorageOptions { ConnectionString = "UseDevelopmentStorage=true", PartitionBuckets = 0 }).Succeeded);
    }

    [Fact]
    public void Validate_PackedStates_NeedSharedPartitions_AndPackBytesAreBounded()
    {
        var validator = new AzureTableStorageOptionsValidator("CsMetrics:Storage:AzureTable");
        var result = validator.Validate("x", new AzureTableStorageOptions { ConnectionString = "UseDevelopmentStorage=true", PackedStates = "account", PartitionBuckets = 0, PackBytes = 1 });
        Assert.Contains(result.Failures!, f => f.StartsWith("CsMetrics:Storage:AzureTable:PackedStates: packing \"account\" needs PartitionBuckets above 0", StringComparison.Ordinal));
        Assert.Contains(result.Failures!, f => f.StartsWith("CsMetrics:Storage:AzureTable:PackBytes: expected 16384 to 921600 bytes, got 1", StringComparison.Ordinal));
        Assert.True(validator.Validate("x", new AzureTableStorageOptions { ConnectionString = "UseDevelopmentStorage=true", PackedStates = "account" }).Succeeded);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a/b", "a%2Fb")]
    [InlineData("50%#?\\", "50%25%23%3F%5C")]
    public void Escape_IsReversibleStyleEscaping(string key, string expected) => Assert.Equal(expected, TableKeys.Escape(key));
}
