using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using CsMetrics.Testing;
using Microsoft.AspNetCore.Hosting;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Query;

/// <summary>A node whose portfolio outbox holds score-only moves for 10 s.</summary>
public sealed class SlowScoreRefreshNode : ServerFixture
{
    public static readonly TimeSpan Refresh = TimeSpan.FromSeconds(10);

    protected override void Configure(IWebHostBuilder builder) =>
        builder.UseSetting("CsMetrics:Portfolio:ScoreRefreshInterval", "00:00:10");
}

/// <summary>
/// The at-risk list follows an account's score within <c>ScoreRefreshInterval</c> and its band
/// within a round of the outbox: a move of the score alone waits (a busy account's many moves
/// become one shard write), a band change does not wait for it. On a node of its own, so no other
/// account's change starts a round.
/// </summary>
public class ScoreRefreshTests(SlowScoreRefreshNode node) : IClassFixture<SlowScoreRefreshNode>
{
    private async Task<JsonNode> PostAsync(string account, IEnumerable<Scoring.Events.HealthEvent> events)
    {
        var (response, body) = await Envelopes.PostAsync(node.Http, Envelopes.Array(events, account));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return body!;
    }

    private async Task<JsonNode?> EntryAsync(string account)
    {
        var (_, page) = await GetAsync(node.Http, $"/v1/accounts?q={account}&limit=5");
        return page!["accounts"]!.AsArray().SingleOrDefault(a => (string?)a!["account"] == account);
    }

    private async Task<JsonNode> WaitForEntryAsync(string account, Func<JsonNode, bool> done, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await EntryAsync(account) is { } entry && done(entry))
            {
                return entry;
            }
            Assert.True(clock.Elapsed < within, $"the list did not show what was expected of {account} within {within}");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task AScoreOnlyMove_WaitsForTheRefresh_WhileABandChangeGoesOutInTheNextRound()
    {
        var account = NewAccount("refresh");
        var now = Envelopes.Now;
        await PostAsync(account, Events.HealthyMonth(now));
        // An account's first entry goes out in the next round.
        var first = await WaitForEntryAsync(account, _ => true, TimeSpan.FromSeconds(5));
        Assert.Equal("green", (string?)first["band"]);

        // One survey moves the score, not the band: the list keeps the old score until the refresh.
        var moved = (await PostAsync(account, [Events.Nps(now.AddMinutes(-1), 7)]))["changed"]!.AsArray().Single()!;
        var sent = Stopwatch.StartNew();
        Assert.Equal("green", (string?)moved["band"]);
        Assert.NotEqual((double)moved["from"]!, (double)moved["to"]!);
        Assert.Equal((double)first["score"]!, (double)(await EntryAsync(account))!["score"]!);
        var refreshed = await WaitForEntryAsync(account, e => (double)e["score"]! == Math.Round((double)moved["to"]!, 1), TimeSpan.FromSeconds(30));
        Assert.True(sent.Elapsed >= SlowScoreRefreshNode.Refresh - TimeSpan.FromSeconds(2), $"the score-only move reached the list after {sent.Elapsed}");
        Assert.Equal("green", (string?)refreshed["band"]);

        // Trouble changes the band: that goes out in the next round, long before a refresh would.
        List<Scoring.Events.HealthEvent> trouble = [Events.PaymentFailed(now.AddMinutes(-3)), Events.Nps(now.AddMinutes(-2), 0),
            .. Enumerable.Range(1, 3).SelectMany(t => new[] { Events.TicketOpened(now.AddMinutes(-2), $"X-{t}", "urgent"), Events.TicketEscalated(now.AddMinutes(-1), $"X-{t}") })];
        var fell = (await PostAsync(account, trouble))["changed"]!.AsArray().Single()!;
        var band = (string?)fell["band"];
        Assert.NotEqual("green", band);
        var clock = Stopwatch.StartNew();
        await WaitForEntryAsync(account, e => (string?)e["band"] == band, TimeSpan.FromSeconds(30));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the band change reached the list after {clock.Elapsed}");
    }
}
