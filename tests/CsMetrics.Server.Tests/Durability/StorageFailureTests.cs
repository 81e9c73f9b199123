using System.Net;
using System.Text;
using CsMetrics.Testing;

namespace CsMetrics.Server.Tests.Durability;

/// <summary>Storage unreachable: not ready, one clear log line, 503 with Retry-After instead of a 2xx it cannot keep.</summary>
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
        for (var i = 0; i < 50 && !node.Output.Contains("Cannot reach Azure Table storage", StringComparison.Ordinal); i++)
        {
            await Task.Delay(100, ct);
        }
        Assert.Contains("Cannot reach Azure Table storage for the event log (table csmetricslog)", node.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("AccountKey", node.Output, StringComparison.Ordinal);
    }
}
