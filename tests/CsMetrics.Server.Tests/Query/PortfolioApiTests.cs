using System.Net;
using System.Text.Json.Nodes;
using CsMetrics.Simulator;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Query;

/// <summary>
/// The at-risk list and the portfolio over HTTP against a known simulated population, on a node of
/// its own (so the index holds only this population): counts and MRR per band match the accounts'
/// own scores, pages cover every account once in order, and bad queries name the field.
/// </summary>
public class PortfolioApiTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const int Accounts = 60;

    private static readonly Lazy<Population> Simulated = new(() =>
        new Population(Accounts, churnShare: 0.2, expandShare: 0.1, new DateTimeOffset(Now.UtcDateTime.Date.AddDays(-30), TimeSpan.Zero), seed: 11));

    private async Task<Population> LoadAsync()
    {
        var population = Simulated.Value;
        var (_, before) = await GetAsync(server.Http, "/v1/portfolio");
        if ((int)before!["accounts"]! < Accounts)
        {
            var events = population.History().Concat(Enumerable.Range(0, 30).SelectMany(population.Day));
            foreach (var chunk in events.Chunk(2000))
            {
                var body = new JsonArray([.. chunk.Select(ToJson)]).ToJsonString();
                var (response, result) = await PostAsync(server.Http, body);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Empty(result!["rejected"]!.AsArray());
            }
        }
        return population;
    }

    /// <summary>Every account as the account itself says, once the index agrees on every band (it follows within a round of the outbox).</summary>
    private async Task<(Dictionary<string, JsonNode> Accounts, JsonNode Portfolio)> SettledAsync(Population population)
    {
        for (var attempt = 0; ; attempt++)
        {
            var views = new Dictionary<string, JsonNode>();
            foreach (var a in population.Accounts)
            {
                var (_, view) = await GetAsync(server.Http, $"/v1/accounts/{a.Id}");
                views[a.Id] = view!;
            }
            var (_, portfolio) = await GetAsync(server.Http, "/v1/portfolio");
            // Counts and MRR per band: an entry can reach its shard with the band before the profile's MRR.
            var agrees = new[] { "green", "yellow", "red" }.All(b =>
                (int)portfolio!["bands"]![b]!["accounts"]! == views.Values.Count(v => (string?)v["band"] == b)
                && Math.Abs((double)portfolio["bands"]![b]!["mrr"]! - views.Values.Where(v => (string?)v["band"] == b).Sum(v => (double?)v["profile"]!["mrr"] ?? 0)) < 0.01);
            if (agrees || attempt == 80)
            {
                return (views, portfolio!);
            }
            await Task.Delay(250, TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Portfolio_CountsAndMrrPerBand_MatchTheAccountsOwnScores()
    {
        var population = await LoadAsync();
        var (views, portfolio) = await SettledAsync(population);

        Assert.Equal(Accounts, (int)portfolio["accounts"]!);
        foreach (var band in new[] { "green", "yellow", "red" })
        {
            var inBand = views.Values.Where(v => (string?)v["band"] == band).ToList();
            Assert.Equal(inBand.Count, (int)portfolio["bands"]![band]!["accounts"]!);
            Assert.Equal(inBand.Sum(v => (double?)v["profile"]!["mrr"] ?? 0), (double)portfolio["bands"]![band]!["mrr"]!, 2);
        }
        Assert.Equal((double)portfolio["bands"]!["red"]!["mrr"]!, (double)portfolio["atRiskMrr"]!);
        Assert.True(views.Values.Count(v => (string?)v["band"] == "red") >= 5, "the simulated churners should be red");
        // Every account got its first score today: within the day, each moved from none to its band.
        Assert.Equal(Accounts, (int)portfolio["movements"]!["day"]!["moved"]!);
        Assert.All(portfolio["movements"]!["week"]!["transitions"]!.AsArray(), t => Assert.Equal("none", (string?)t!["from"]));

        // The red list is exactly the red accounts, most at risk first.
        var (_, red) = await GetAsync(server.Http, "/v1/accounts?band=red&limit=500");
        var redIds = red!["accounts"]!.AsArray().Select(a => (string)a!["account"]!).ToList();
        Assert.Equal(views.Where(v => (string?)v.Value["band"] == "red").Select(v => v.Key).Order(), redIds.Order());
        var scores = red["accounts"]!.AsArray().Select(a => (double)a!["score"]!).ToList();
        Assert.Equal(scores.Order(), scores);
        Assert.Equal(redIds.Count, (int)red["total"]!);
        Assert.Null(red["nextCursor"]);
    }

    [Fact]
    public async Task Accounts_PagesByCursor_CoverEveryAccountOnceInOrder_AndFilterBySegment()
    {
        var population = await LoadAsync();
        await SettledAsync(population);
        var seen = new List<(string Account, double Mrr)>();
        string? cursor = null;
        do
        {
            var (response, page) = await GetAsync(server.Http, $"/v1/accounts?sort=-mrr&limit=7{(cursor is null ? "" : "&cursor=" + cursor)}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Accounts, (int)page!["total"]!);
            seen.AddRange(page["accounts"]!.AsArray().Select(a => ((string)a!["account"]!, (double)a["mrr"]!)));
            cursor = (string?)page["nextCursor"];
        }
        while (cursor is not null);
        Assert.Equal(population.Accounts.Select(a => a.Id).Order(), seen.Select(s => s.Account).Order());
        Assert.Equal(seen.Select(s => s.Mrr).OrderDescending(), seen.Select(s => s.Mrr));

        var (_, enterprise) = await GetAsync(server.Http, "/v1/accounts?segment=enterprise&limit=500");
        Assert.Equal(population.Accounts.Where(a => a.Segment == "enterprise").Select(a => a.Id).Order(),
            enterprise!["accounts"]!.AsArray().Select(a => (string)a!["account"]!).Order());
    }

    [Theory]
    [InlineData("band=purple", "band: expected green, yellow, red or none")]
    [InlineData("sort=health", "sort: expected one of score, -score")]
    [InlineData("limit=0", "limit: expected a whole number from 1 to 500")]
    [InlineData("limit=ten", "limit: expected a whole number from 1 to 500")]
    [InlineData("cursor=not-a-cursor", "cursor: expected the nextCursor of an earlier page")]
    public async Task Accounts_BadQuery_Is400NamingTheField(string query, string expected)
    {
        var (response, body) = await GetAsync(server.Http, $"/v1/accounts?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith(expected, (string?)body!["detail"]);
    }
}
