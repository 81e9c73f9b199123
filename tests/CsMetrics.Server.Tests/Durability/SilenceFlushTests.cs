using System.Net;
using System.Text.Json.Nodes;
using CsMetrics.Grains;
using CsMetrics.Scoring.Events;
using CsMetrics.Storage.AzureTable.Log;
using CsMetrics.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Storage;

namespace CsMetrics.Server.Tests.Durability;

/// <summary>
/// Accounts tell the silence schedule when they would go silent without waiting for its paced
/// saves, so a report can be lost with a crash; the event log replays it, but only while the log
/// is still there. A truncation round therefore must not delete the log until every shard of the
/// schedule has saved: here the schedule's saves fail (the log's writes do not), and the log
/// stays until they succeed again.
/// </summary>
[Collection(DurableTests.Name)]
public class SilenceFlushTests(Azurite azurite)
{
    [Fact]
    public async Task TruncationRound_KeepsTheLog_UntilTheSilenceScheduleHasSaved()
    {
        var ct = TestContext.Current.CancellationToken;
        var serviceId = $"silence{Guid.NewGuid():N}"[..20];
        await using var node = new Node(azurite.ConnectionString, serviceId);
        await node.InitializeAsync();
        // Reads the node's log as another node would (the default store: append blobs).
        await using var log = new AzureBlobEventLog(azurite.ConnectionString, "csmetricslog", serviceId, "reader", TimeSpan.FromSeconds(10), NullLogger.Instance);

        node.Faults.FailSilenceWrites = true;
        var now = TimeProvider.System.GetUtcNow();
        var events = Enumerable.Range(0, 40).Select(i => Events.Login(now.AddMinutes(-i), $"silence-evt-{i}") with { Account = $"silence-{i % 8}" });
        var body = new JsonArray([.. events.Select(e => (JsonNode)Envelopes.ToJson(e))]).ToJsonString();
        using (var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"))
        {
            using var response = await node.Http.PostAsync(new Uri("/v1/events", UriKind.Relative), content, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.True(await LogEntriesAsync(log, serviceId, ct) > 0, "the acknowledged batch is in the log");

        // Rounds run every second: the accounts checkpoint and report, the schedule's saves fail.
        await WaitUntilAsync(() => node.Faults.FailedSilenceWrites >= 3, TimeSpan.FromSeconds(60), "the silence schedule never tried to save", ct);
        await Task.Delay(TimeSpan.FromSeconds(3), ct); // several more rounds, each failing at the schedule's flush
        Assert.True(await LogEntriesAsync(log, serviceId, ct) > 0,
            $"the log was deleted while the silence schedule could not save ({node.Faults.FailedSilenceWrites} failed saves)");

        node.Faults.FailSilenceWrites = false;
        await WaitUntilAsync(async () => await LogEntriesAsync(log, serviceId, ct) == 0, TimeSpan.FromSeconds(60),
            "the log was never deleted once the silence schedule saved again", ct);
        Assert.True(node.Faults.SilenceWrites > 0, "the schedule saved before the log went");
    }

    private static async Task<int> LogEntriesAsync(IEventLog log, string serviceId, CancellationToken ct)
    {
        var count = 0;
        await foreach (var _ in log.ReadAllAsync(ct))
        {
            count++;
        }
        return count;
    }

    private static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string failure, CancellationToken ct) =>
        WaitUntilAsync(() => Task.FromResult(condition()), timeout, failure, ct);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string failure, CancellationToken ct)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (!await condition())
        {
            Assert.True(TimeProvider.System.GetElapsedTime(started) < timeout, failure);
            await Task.Delay(200, ct);
        }
    }

    /// <summary>Fails the silence schedule's writes while asked to; every other write goes through.</summary>
    public sealed class SilenceFaults
    {
        private int _failed;
        private int _written;

        private volatile bool _failSilenceWrites;

        public bool FailSilenceWrites { get => _failSilenceWrites; set => _failSilenceWrites = value; }

        public int FailedSilenceWrites => Volatile.Read(ref _failed);

        public int SilenceWrites => Volatile.Read(ref _written);

        public IGrainStorage Wrap(IGrainStorage inner) => new Storage(inner, this);

        private sealed class Storage(IGrainStorage inner, SilenceFaults faults) : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
        {
            public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

            public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
            {
                if (stateName == "silence")
                {
                    if (faults.FailSilenceWrites)
                    {
                        Interlocked.Increment(ref faults._failed);
                        throw new IOException($"storage failed the write of {grainId} (test)");
                    }
                    Interlocked.Increment(ref faults._written);
                }
                return inner.WriteStateAsync(stateName, grainId, grainState);
            }

            public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);

            public void Participate(ISiloLifecycle lifecycle) => (inner as ILifecycleParticipant<ISiloLifecycle>)?.Participate(lifecycle);
        }
    }

    /// <summary>A durable node in this process, so its grain storage can be wrapped; the event log is the real one.</summary>
    private sealed class Node(string connectionString, string serviceId) : ServerFixture
    {
        public SilenceFaults Faults { get; } = new();

        protected override void Configure(IWebHostBuilder builder)
        {
            builder.UseSetting("CsMetrics:Node:ServiceId", serviceId);
            builder.UseSetting("CsMetrics:Storage:Provider", "AzureTable");
            builder.UseSetting("CsMetrics:Storage:AzureTable:ConnectionString", connectionString);
            builder.UseSetting("CsMetrics:Durability:TruncateInterval", "00:00:01");
            builder.UseSetting("CsMetrics:Durability:HeartbeatInterval", "00:00:01");
            builder.ConfigureTestServices(services =>
            {
                var registered = services.Single(d => d.ServiceType == typeof(IGrainStorage) && Equals(d.ServiceKey, StorageNames.Default));
                services.Remove(registered);
                services.AddKeyedSingleton<IGrainStorage>(StorageNames.Default, (sp, key) => Faults.Wrap((IGrainStorage)registered.KeyedImplementationFactory!(sp, key)));
            });
        }
    }
}
