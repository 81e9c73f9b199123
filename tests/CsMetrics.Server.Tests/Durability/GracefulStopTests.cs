using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using CsMetrics.Scoring.Events;
using CsMetrics.Testing;

namespace CsMetrics.Server.Tests.Durability;

/// <summary>
/// A node stopped the way a service manager stops it (SIGTERM) checkpoints every account it fed
/// before its silo goes away, deletes its log, and so a restart replays nothing and finds every
/// account from its checkpoint.
/// </summary>
[Collection(DurableTests.Name)]
public class GracefulStopTests(Azurite azurite)
{
    private const int Accounts = 150;
    private const int Batches = 10;

    // Nothing checkpoints on its own before the stop: only the stop's drain can.
    private Dictionary<string, string> Settings(string serviceId) => DurableTests.Node(azurite, serviceId,
        ("CsMetrics:Accounts:MaxUnsavedEvents", "1000000"), ("CsMetrics:Durability:TruncateInterval", "01:00:00"));

    [Fact]
    public async Task Sigterm_CheckpointsEveryAccountFed_SoARestartHasNothingToReplay()
    {
        var ct = TestContext.Current.CancellationToken;
        var serviceId = $"stop{Guid.NewGuid():N}"[..20];
        var now = TimeProvider.System.GetUtcNow();
        var sent = new List<HealthEvent>();
        var node = await NodeProcess.StartAsync(Settings(serviceId), cancellationToken: ct);
        try
        {
            for (var b = 0; b < Batches; b++)
            {
                var events = Enumerable.Range(0, 200).Select(i =>
                    Events.Login(now.AddMinutes(-i), $"stop-{b}-{i}") with { Account = $"stop-{(b * 200 + i) % Accounts}", User = $"u-{i % 7}" }).ToList();
                var body = new JsonArray([.. events.Select(e => (JsonNode)Envelopes.ToJson(e))]).ToJsonString();
                using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
                using var response = await node.Http.PostAsync(new Uri("/v1/events", UriKind.Relative), content, ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                sent.AddRange(events);
            }
            // A dashboard holds the alert stream open: the stop must not wait on it.
            using var stream = await node.Http.GetAsync(new Uri("/v1/alerts/stream", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead, ct);
            Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
            var stopping = System.Diagnostics.Stopwatch.StartNew();
            Assert.Equal(0, await node.StopAsync(TimeSpan.FromSeconds(90), ct));
            TestContext.Current.TestOutputHelper?.WriteLine($"graceful stop: {stopping.Elapsed.TotalSeconds:F1} s");
            Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(25), $"the stop took {stopping.Elapsed}; an open stream held the server past the drain's time");
        }
        finally
        {
            await node.DisposeAsync();
        }

        var output = node.Output;
        // The catalog's first read of the schema registry waits for the silo: no placement retries at start.
        Assert.DoesNotContain("No active nodes are compatible with grain catalogregistry", output, StringComparison.Ordinal);
        Assert.Contains("Stopping: checkpointing the accounts fed since the last truncation", output, StringComparison.Ordinal);
        var drained = System.Text.RegularExpressions.Regex.Match(output, @"Checkpointed (\d+) accounts and deleted the (\d+) log entries");
        Assert.True(drained.Success, output);
        Assert.Equal(Accounts, int.Parse(drained.Groups[1].Value, CultureInfo.InvariantCulture));
        Assert.Equal(Batches, int.Parse(drained.Groups[2].Value, CultureInfo.InvariantCulture));
        Assert.DoesNotContain("Could not checkpoint", output, StringComparison.Ordinal);
        Assert.DoesNotContain("did not finish", output, StringComparison.Ordinal);

        await using var restarted = await NodeProcess.StartAsync(Settings(serviceId), cancellationToken: ct);
        Assert.Contains("Replayed 0 log entries (0 events, 0 accounts)", await restarted.OutputContainingAsync("Replayed", TimeSpan.FromSeconds(30), ct), StringComparison.Ordinal);
        foreach (var group in sent.GroupBy(e => e.Account))
        {
            var view = JsonNode.Parse(await restarted.Http.GetStringAsync(new Uri($"/v1/accounts/{group.Key}", UriKind.Relative), ct))!;
            Assert.Equal(group.Count(), (long)view["eventCount"]!);
        }
    }
}
