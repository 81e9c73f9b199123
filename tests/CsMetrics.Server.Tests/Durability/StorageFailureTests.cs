using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CsMetrics.Testing;

namespace CsMetrics.Server.Tests.Durability;

/// <summary>
/// Storage unreachable at start or lost while running: not ready, one clear log line, 503 with
/// Retry-After instead of a 2xx it cannot keep, and back by itself when storage returns.
/// </summary>
public class StorageFailureTests
{
    [Fact]
    public async Task UnreachableStorage_NotReadyAnd503WithRetryAfter()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string>
        {
            ["CsMetrics:Node:ServiceId"] = "unreachable",
            ["CsMetrics:Storage:Provider"] = "AzureTable",
            ["CsMetrics:Storage:AzureTable:ConnectionString"] = Azurite.Unreachable(NodeProcess.FreePort()),
            ["CsMetrics:Storage:AzureTable:RequestTimeout"] = "00:00:01",
        }, waitReady: false, cancellationToken: ct);

        using var ready = await node.Http.GetAsync(new Uri("/readyz", UriKind.Relative), ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("storage", await ready.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);

        using var content = new StringContent("""[{"id":"u1","account":"a","type":"login","timestamp":"2026-11-23T10:15:00Z"}]""", Encoding.UTF8, "application/json");
        using var post = await node.Http.PostAsync(new Uri("/v1/events", UriKind.Relative), content, ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, post.StatusCode);
        Assert.NotNull(post.Headers.RetryAfter);

        // One clear line that says what it tried.
        for (var i = 0; i < 50 && !node.Output.Contains("Cannot reach Azure Storage", StringComparison.Ordinal); i++)
        {
            await Task.Delay(100, ct);
        }
        Assert.Contains("Cannot reach Azure Storage for the event log (blob container csmetricslog)", node.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("AccountKey", node.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TableServiceUnreachable_WhileTheLogsBlobsAnswer_NotReady_NamingTheTables()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var azurite = await Azurite.StartOwnAsync();
        // Blobs (the event log) answer; the table service (grain state, alerts, the index) does not.
        var tablesAway = System.Text.RegularExpressions.Regex.Replace(azurite.ConnectionString,
            @"TableEndpoint=http://127\.0\.0\.1:\d+/", $"TableEndpoint=http://127.0.0.1:{NodeProcess.FreePort()}/");
        Assert.NotEqual(azurite.ConnectionString, tablesAway);
        await using var node = await NodeProcess.StartAsync(new Dictionary<string, string>
        {
            ["CsMetrics:Node:ServiceId"] = "tables-away",
            ["CsMetrics:Storage:Provider"] = "AzureTable",
            ["CsMetrics:Storage:AzureTable:ConnectionString"] = tablesAway,
            ["CsMetrics:Storage:AzureTable:RequestTimeout"] = "00:00:01",
        }, waitReady: false, cancellationToken: ct);

        string detail = "";
        for (var i = 0; i < 100 && !detail.Contains("state tables", StringComparison.Ordinal); i++)
        {
            using var ready = await node.Http.GetAsync(new Uri("/readyz", UriKind.Relative), ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            detail = await ready.Content.ReadAsStringAsync(ct);
            await Task.Delay(100, ct);
        }
        Assert.Contains("storage: the state tables (table service) cannot be reached", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StorageLostWhileRunning_503WithRetryAfter_ThenBackByItself_LosingAndDoublingNothing()
    {
        const int Accounts = 5;
        var ct = TestContext.Current.CancellationToken;
        await using var azurite = await Azurite.StartOwnAsync();
        var settings = new Dictionary<string, string>
        {
            ["CsMetrics:Node:ServiceId"] = "storage-lost",
            ["CsMetrics:Storage:Provider"] = "AzureTable",
            ["CsMetrics:Storage:AzureTable:ConnectionString"] = azurite.ConnectionString,
            ["CsMetrics:Storage:AzureTable:RequestTimeout"] = "00:00:02",
        };
        var now = TimeProvider.System.GetUtcNow();
        string Body(string phase) => "[" + string.Join(",", Enumerable.Range(0, Accounts * 4).Select(i =>
            $$"""{"id":"{{phase}}-{{i}}","account":"lost-{{i % Accounts}}","type":"login","user":"u-{{i}}","timestamp":"{{now.AddMinutes(-i):yyyy-MM-ddTHH:mm:ssZ}}"}""")) + "]";
        async Task<HttpResponseMessage> PostAsync(NodeProcess node, string body)
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            return await node.Http.PostAsync(new Uri("/v1/events", UriKind.Relative), content, ct);
        }
        async Task<long[]> CountsAsync(NodeProcess node) => await Task.WhenAll(Enumerable.Range(0, Accounts).Select(async a =>
            (long)JsonNode.Parse(await node.Http.GetStringAsync(new Uri($"/v1/accounts/lost-{a}", UriKind.Relative), ct))!["eventCount"]!));

        var node = await NodeProcess.StartAsync(settings, cancellationToken: ct);
        try
        {
            using (var before = await PostAsync(node, Body("before")))
            {
                Assert.Equal(HttpStatusCode.OK, before.StatusCode);
            }

            await azurite.StopAsync();
            using (var refused = await PostAsync(node, Body("during")))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
                Assert.NotNull(refused.Headers.RetryAfter);
            }
            using (var ready = await node.Http.GetAsync(new Uri("/readyz", UriKind.Relative), ct))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            }

            // Storage returns; the client retries as Retry-After says, and the node takes the batch by itself.
            await azurite.StartAgainAsync();
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                using var retry = await PostAsync(node, Body("during"));
                if (retry.StatusCode == HttpStatusCode.OK)
                {
                    break;
                }
                Assert.Equal(HttpStatusCode.ServiceUnavailable, retry.StatusCode);
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), $"POST /v1/events still answered 503 60 s after storage returned: {await retry.Content.ReadAsStringAsync(ct)}\n{node.Output[^Math.Min(node.Output.Length, 6000)..]}");
                await Task.Delay(retry.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1), ct);
            }
            await node.WaitAsync("/readyz", TimeSpan.FromSeconds(30), ct);
            // Each account: 4 events before, 4 refused then retried; each counted once.
            Assert.All(await CountsAsync(node), c => Assert.Equal(8, c));
        }
        finally
        {
            node.Kill();
            await node.DisposeAsync();
        }

        // Both acknowledged batches survive kill -9, once each.
        await using var restarted = await NodeProcess.StartAsync(settings, cancellationToken: ct);
        Assert.All(await CountsAsync(restarted), c => Assert.Equal(8, c));
    }
}
