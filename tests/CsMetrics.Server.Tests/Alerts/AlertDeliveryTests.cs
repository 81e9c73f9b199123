using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using CsMetrics.Server.Tests.Durability;
using CsMetrics.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Alerts;

/// <summary>
/// Alerts leaving CsMetrics, against a real node process on Azurite: the live stream and its
/// resumption (also across a restart), signed webhooks that survive failures, parking and
/// replay, and escalation of critical alerts nobody acknowledged.
/// </summary>
[Collection(DurableTests.Name)]
public sealed class AlertDeliveryTests(Azurite azurite) : IAsyncLifetime
{
    private const string Secret = "a-secret-for-signing-0123456789";
    private readonly string _modelPath = Models.WriteTemp(Models.With(m =>
    {
        m["ingest"]!["graceHours"] = 24 * 365;
        m["alerts"]!["escalation"]!["afterMinutes"] = 0.05; // 3 seconds
    }));

    private readonly string _serviceId = $"alerts{Guid.NewGuid():N}"[..20];

    private Dictionary<string, string> Settings(int maxAttempts = 8) => new()
    {
        ["CsMetrics:Node:ServiceId"] = _serviceId,
        ["CsMetrics:Storage:Provider"] = "AzureTable",
        ["CsMetrics:Storage:AzureTable:ConnectionString"] = azurite.ConnectionString,
        ["CsMetrics:Model:Path"] = _modelPath,
        ["CsMetrics:Alerts:ClockInterval"] = "00:00:00.5",
        ["CsMetrics:Webhooks:PollInterval"] = "00:00:00.2",
        ["CsMetrics:Webhooks:BaseBackoff"] = "00:00:00.2",
        ["CsMetrics:Webhooks:MaxAttempts"] = maxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync()
    {
        File.Delete(_modelPath);
        return ValueTask.CompletedTask;
    }

    /// <summary>Healthy three weeks ago, churning now: a decisive fall into red.</summary>
    private static async Task TurnRedAsync(HttpClient http, string account)
    {
        var (first, _) = await PostAsync(http, Array(Events.HealthyMonth(Now.AddDays(-20)), account));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var (second, body) = await PostAsync(http, Array(Events.ChurningAccount(Now), account));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("red", (string?)body!["changed"]![0]!["band"]);
    }

    private static async Task<JsonNode> WaitForAlertAsync(HttpClient http, string query, Func<JsonNode, bool>? match = null, double seconds = 20)
    {
        var deadline = Now.AddSeconds(seconds);
        while (true)
        {
            var (_, body) = await GetAsync(http, $"/v1/alerts?{query}");
            if (body!["alerts"]!.AsArray().FirstOrDefault(a => match?.Invoke(a!) ?? true) is { } alert)
            {
                return alert;
            }
            Assert.True(Now < deadline, $"no alert for {query} within {seconds} s: {body.ToJsonString()}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    private static bool IsRedOf(string data, string account) =>
        JsonNode.Parse(data) is { } a && (string?)a["account"] == account && (string?)a["type"] == "entered_red" && (string?)a["change"] == "raised";

    [Fact]
    public async Task Stream_DeliversARedCrossingLive_AndResumesFromLastEventId_AlsoAfterARestart()
    {
        var ct = TestContext.Current.CancellationToken;
        var first = NewAccount("sse-live");
        var missed = NewAccount("sse-missed");
        var node = await NodeProcess.StartAsync(Settings(), cancellationToken: ct);
        long lastSeen;
        try
        {
            await using (var stream = await SseClient.ConnectAsync(node.Http, null, ct))
            {
                await TurnRedAsync(node.Http, first);
                var received = await stream.UntilAsync(d => IsRedOf(d, first), TimeSpan.FromSeconds(20));
                lastSeen = received[^1].Id;
                Assert.True(lastSeen > 0);
                var red = JsonNode.Parse(received[^1].Data)!;
                Assert.Equal(lastSeen, (long)red["sequence"]!);
                Assert.Equal("critical", (string?)red["severity"]);
                Assert.NotEmpty(red["playbook"]!.AsArray());
            }

            // Disconnected: another account turns red meanwhile.
            await TurnRedAsync(node.Http, missed);
            await WaitForAlertAsync(node.Http, $"account={missed}&type=entered_red");

            await using (var resumed = await SseClient.ConnectAsync(node.Http, lastSeen, ct))
            {
                var caughtUp = await resumed.UntilAsync(d => IsRedOf(d, missed), TimeSpan.FromSeconds(20));
                Assert.All(caughtUp, e => Assert.True(e.Id > lastSeen, $"event {e.Id} is not after {lastSeen}"));
                Assert.Equal(caughtUp.Select(e => e.Id).Order(), caughtUp.Select(e => e.Id));
                Assert.DoesNotContain(caughtUp, e => IsRedOf(e.Data, first));
            }
        }
        finally
        {
            node.Kill();
            await node.DisposeAsync();
        }

        // The changes are stored: a restarted node resumes the same stream from the same id.
        var restarted = await NodeProcess.StartAsync(Settings(), cancellationToken: ct);
        await using (restarted)
        {
            await using var again = await SseClient.ConnectAsync(restarted.Http, lastSeen, ct);
            var caughtUp = await again.UntilAsync(d => IsRedOf(d, missed), TimeSpan.FromSeconds(30));
            Assert.All(caughtUp, e => Assert.True(e.Id > lastSeen));

            var (bad, problem) = await GetAsync(restarted.Http, "/v1/alerts/stream?lastEventId=yesterday");
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.StartsWith("Last-Event-ID: expected", (string?)problem!["detail"], StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Webhook_FailingThreeTimes_ReceivesTheAlertExactlyOnce_Signed_WithEveryAttemptLogged()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await Receiver.StartAsync(failFirst: 3);
        var node = await NodeProcess.StartAsync(Settings(), cancellationToken: ct);
        await using (node)
        {
            using var add = new StringContent($$"""{"url": "{{receiver.Url}}", "secret": "{{Secret}}", "severities": ["critical"]}""", Encoding.UTF8, "application/json");
            using var created = await node.Http.PostAsync(new Uri("/v1/webhooks", UriKind.Relative), add, ct);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var webhook = JsonNode.Parse(await created.Content.ReadAsStringAsync(ct))!;
            var id = (string)webhook["id"]!;
            Assert.Null(webhook["secret"]);

            var account = NewAccount("hook");
            await TurnRedAsync(node.Http, account);
            var red = await WaitForAlertAsync(node.Http, $"account={account}&type=entered_red");

            // Delivered once it succeeds; wait a little longer for any repeat.
            var deadline = Now.AddSeconds(30);
            while (receiver.Accepted.IsEmpty && Now < deadline)
            {
                await Task.Delay(100, ct);
            }
            await Task.Delay(1500, ct);

            var accepted = receiver.Accepted.Where(r => (string?)JsonNode.Parse(r.Body)!["id"] == (string?)red["id"]).ToList();
            var delivery = Assert.Single(accepted);
            Assert.Equal(WebhookSignature(delivery.Body), delivery.Signature);
            Assert.Equal("4", delivery.Attempt);
            var tries = receiver.All.Where(r => r.Delivery == delivery.Delivery).ToList();
            Assert.Equal(4, tries.Count);
            Assert.All(tries, t => Assert.Equal(delivery.Body, t.Body)); // the same signed body every time
            // Only critical alerts: the webhook got nothing else about this account.
            Assert.All(receiver.All, r => Assert.Equal("critical", (string?)JsonNode.Parse(r.Body)!["severity"]));

            var (_, log) = await GetAsync(node.Http, $"/v1/webhooks/{id}/deliveries");
            var entry = Assert.Single(log!["deliveries"]!.AsArray(), d => (string?)d!["alertId"] == (string?)red["id"])!;
            Assert.Equal("delivered", (string?)entry["state"]);
            var attempts = entry["attempts"]!.AsArray();
            Assert.Equal([500, 500, 500, 200], attempts.Select(a => (int)a!["status"]!));
            Assert.Equal("HTTP 500 Internal Server Error", (string?)attempts[0]!["error"]);
        }
    }

    [Fact]
    public async Task Webhook_ParkedAfterMaxAttempts_IsReplayedOnRequest_AndSurvivesARestart()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var receiver = await Receiver.StartAsync(failFirst: int.MaxValue);
        var node = await NodeProcess.StartAsync(Settings(maxAttempts: 2), cancellationToken: ct);
        string id;
        JsonNode parked;
        try
        {
            using var add = new StringContent($$"""{"url": "{{receiver.Url}}", "secret": "{{Secret}}"}""", Encoding.UTF8, "application/json");
            using var created = await node.Http.PostAsync(new Uri("/v1/webhooks", UriKind.Relative), add, ct);
            id = (string)JsonNode.Parse(await created.Content.ReadAsStringAsync(ct))!["id"]!;
            var account = NewAccount("parked");
            await TurnRedAsync(node.Http, account);
            var red = await WaitForAlertAsync(node.Http, $"account={account}&type=entered_red");
            parked = await WaitForDeliveryAsync(node.Http, id, (string)red["id"]!, "parked");
            Assert.Equal(2, parked["attempts"]!.AsArray().Count);
        }
        finally
        {
            node.Kill();
            await node.DisposeAsync();
        }

        // Restarted, the parked delivery is still listed; replayed once the receiver works, it arrives.
        await using var restarted = await NodeProcess.StartAsync(Settings(maxAttempts: 2), cancellationToken: ct);
        receiver.FailFirst = 0;
        using var replay = await restarted.Http.PostAsync(new Uri($"/v1/webhooks/{id}/deliveries/{(string)parked["id"]!}/replay", UriKind.Relative), null, ct);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        var delivered = await WaitForDeliveryAsync(restarted.Http, id, (string)parked["alertId"]!, "delivered");
        Assert.Equal(3, delivered["attempts"]!.AsArray().Count);
        Assert.Single(receiver.Accepted, r => r.Delivery == (string?)parked["id"]);

        using var missing = await restarted.Http.PostAsync(new Uri($"/v1/webhooks/{id}/deliveries/nope/replay", UriKind.Relative), null, ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task AnUnacknowledgedCriticalAlert_Escalates_AnAcknowledgedOneDoesNot()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var node = await NodeProcess.StartAsync(Settings(), cancellationToken: ct);
        var ignored = NewAccount("ignored");
        var handled = NewAccount("handled");
        await TurnRedAsync(node.Http, ignored);
        await TurnRedAsync(node.Http, handled);
        var handledRed = await WaitForAlertAsync(node.Http, $"account={handled}&type=entered_red");
        using var ack = await node.Http.PostAsync(new Uri($"/v1/alerts/{(string)handledRed["id"]!}/ack", UriKind.Relative), null, ct);
        Assert.Equal(HttpStatusCode.OK, ack.StatusCode);

        var red = await WaitForAlertAsync(node.Http, $"account={ignored}&type=entered_red");
        // The churn story also holds a failed payment, itself critical: look for the red alert's escalation.
        var escalation = await WaitForAlertAsync(node.Http, $"account={ignored}&type=escalated", a => (string?)a["escalationOf"] == (string?)red["id"]);
        var original = await WaitForAlertAsync(node.Http, $"account={ignored}&type=entered_red", a => a["escalatedAt"] is not null);
        Assert.Equal("cs-leadership", (string?)escalation["owner"]);
        Assert.Equal("critical", (string?)escalation["severity"]);
        Assert.NotNull(original["escalatedAt"]);

        await Task.Delay(3500, ct); // past the escalation time of the acknowledged one too
        var (_, escalations) = await GetAsync(node.Http, $"/v1/alerts?account={handled}&type=escalated");
        Assert.DoesNotContain(escalations!["alerts"]!.AsArray(), a => (string?)a!["escalationOf"] == (string?)handledRed["id"]);
    }

    private static async Task<JsonNode> WaitForDeliveryAsync(HttpClient http, string webhook, string alertId, string state)
    {
        var deadline = Now.AddSeconds(30);
        while (true)
        {
            var (_, log) = await GetAsync(http, $"/v1/webhooks/{webhook}/deliveries");
            if (log!["deliveries"]!.AsArray().FirstOrDefault(d => (string?)d!["alertId"] == alertId && (string?)d["state"] == state) is { } found)
            {
                return found;
            }
            Assert.True(Now < deadline, $"no {state} delivery of {alertId}: {log.ToJsonString()}");
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
    }

    private static string WebhookSignature(string body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(Secret), Encoding.UTF8.GetBytes(body)));

    /// <summary>A local webhook receiver on a real port that answers 500 to the first attempts of each delivery.</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentDictionary<string, int> _tries = new();

        private Receiver(WebApplication app, string url) => (_app, Url) = (app, url);

        public string Url { get; }

        public volatile int FailFirst;

        public ConcurrentQueue<Received> All { get; } = new();

        public ConcurrentQueue<Received> Accepted { get; } = new();

        public sealed record Received(string Body, string? Signature, string? Delivery, string? Attempt);

        public static async Task<Receiver> StartAsync(int failFirst)
        {
            var port = NodeProcess.FreePort();
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
            var app = builder.Build();
            var receiver = new Receiver(app, $"http://127.0.0.1:{port}/hook") { FailFirst = failFirst };
            app.MapPost("/hook", async (HttpRequest request) =>
            {
                using var reader = new StreamReader(request.Body, Encoding.UTF8);
                var received = new Received(await reader.ReadToEndAsync(),
                    request.Headers["X-CsMetrics-Signature"].FirstOrDefault(),
                    request.Headers["X-CsMetrics-Delivery"].FirstOrDefault(),
                    request.Headers["X-CsMetrics-Attempt"].FirstOrDefault());
                receiver.All.Enqueue(received);
                var tries = receiver._tries.AddOrUpdate(received.Delivery ?? "", 1, (_, n) => n + 1);
                if (tries <= receiver.FailFirst)
                {
                    return Results.StatusCode(500);
                }
                receiver.Accepted.Enqueue(received);
                return Results.Ok();
            });
            await app.StartAsync();
            return receiver;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
