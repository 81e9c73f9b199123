using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using CsMetrics.Scoring.Events;
using CsMetrics.Testing;

namespace CsMetrics.Server.Tests.Durability;

/// <summary>A node dies and never returns: a node still running replays what the dead one had acknowledged.</summary>
[Collection(DurableTests.Name)]
public class OrphanLogTests(Azurite azurite)
{
    private Dictionary<string, string> Settings(string serviceId, string clusterId) => DurableTests.Node(azurite, serviceId,
        ("CsMetrics:Node:ClusterId", clusterId),
        // Nothing is saved or truncated before the crash: the events live only in the dead node's log.
        ("CsMetrics:Durability:TruncateInterval", "01:00:00"),
        ("CsMetrics:Durability:HeartbeatInterval", "00:00:01"),
        ("CsMetrics:Durability:OrphanAfter", "00:00:08"));

    [Fact]
    public async Task DeadNodesLog_IsReplayedByTheNodeThatKeepsRunning()
    {
        var ct = TestContext.Current.CancellationToken;
        var serviceId = $"orphan{Guid.NewGuid():N}"[..20];
        var clusterId = $"c{Guid.NewGuid():N}"[..12];
        await using var survivor = await NodeProcess.StartAsync(Settings(serviceId, clusterId), cancellationToken: ct);
        var joining = Settings(serviceId, clusterId);
        joining["CsMetrics:Node:PrimarySiloPort"] = survivor.SiloPort.ToString(CultureInfo.InvariantCulture);
        var victim = await NodeProcess.StartAsync(joining, cancellationToken: ct);

        var now = TimeProvider.System.GetUtcNow();
        var expected = new Dictionary<string, int>();
        var events = new List<HealthEvent>();
        for (var i = 0; i < 400; i++)
        {
            var account = $"orphan-{i % 40}";
            events.Add(Events.Login(now.AddMinutes(-i), $"orphan-evt-{i}") with { Account = account });
            expected[account] = expected.GetValueOrDefault(account) + 1;
        }
        var body = new JsonArray([.. events.Select(e => (JsonNode)Envelopes.ToJson(e))]).ToJsonString();
        using (var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"))
        {
            using var response = await victim.Http.PostAsync(new Uri("/v1/events", UriKind.Relative), content, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        victim.Kill();
        await victim.DisposeAsync();

        // Until the cluster declares the victim dead and its log is adopted, answers may be
        // missing or short; afterwards every account must show exactly what was acknowledged.
        var deadline = TimeProvider.System.GetTimestamp();
        var missing = expected.Keys.ToHashSet();
        while (missing.Count > 0 && TimeProvider.System.GetElapsedTime(deadline) < TimeSpan.FromSeconds(120))
        {
            foreach (var account in missing.ToList())
            {
                try
                {
                    using var response = await survivor.Http.GetAsync(new Uri($"/v1/accounts/{account}", UriKind.Relative), ct);
                    if (response.StatusCode == HttpStatusCode.OK
                        && (int)JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!["eventCount"]! == expected[account])
                    {
                        missing.Remove(account);
                    }
                }
                catch (HttpRequestException)
                {
                }
                catch (TaskCanceledException) when (!ct.IsCancellationRequested)
                {
                }
            }
            await Task.Delay(500, ct);
        }
        Assert.True(missing.Count == 0, $"{missing.Count} accounts never showed their acknowledged events:\n{survivor.Output}");
        // The accounts may all have lived on the survivor (placement chose it), so they can be complete
        // before the victim is declared dead: the adoption of its log still has to happen.
        Assert.Contains("Adopting event log", await survivor.OutputContainingAsync("Adopting event log", TimeSpan.FromSeconds(60), ct), StringComparison.Ordinal);
    }
}
