using System.Net;
using CsMetrics.Testing;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Query;

[Collection(ServerTests.Name)]
public class AccountsTests(ServerFixture server)
{
    [Fact]
    public async Task GetAccount_ShowsScoreComponentsAndTheExplainedChange()
    {
        var account = NewAccount("explain");
        await PostAsync(server.Http, Array(Events.HealthyMonth(Now), account));
        await PostAsync(server.Http, Array([Events.TicketOpened(Now.AddMinutes(-20), "T-123", "urgent"), Events.TicketEscalated(Now.AddMinutes(-10), "T-123")], account));

        var (response, view) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(account, (string?)view!["account"]);
        Assert.InRange((double)view["score"]!, 0, 100);
        Assert.Contains((string?)view["band"], new[] { "green", "yellow", "red" });
        foreach (var component in new[] { "usage", "support", "sentiment", "outcomes", "billing" })
        {
            var c = view["components"]![component]!;
            Assert.False((bool)c["noData"]!);
            Assert.NotNull(c["metrics"]);
            Assert.InRange((double)c["score"]!, 0, 100);
        }
        Assert.Equal(35, (double)view["components"]!["usage"]!["weight"]!);
        Assert.NotNull(view["components"]!["support"]!["metrics"]!["escalations"]);

        var last = view["changes"]![0]!;
        Assert.Equal("ticket T-123 escalated (+1 more events)", (string?)last["cause"]);
        Assert.True((double)last["drivers"]!["support"]! < 0);
        Assert.True((double)last["to"]! < (double)last["from"]!);
        Assert.Matches(@"^\d+(\.\d)? -> \d+(\.\d)?: ticket T-123 escalated \(\+1 more events\), support -\d", (string?)last["summary"]);
        Assert.NotNull(view["lastEventAt"]);
        Assert.NotNull(view["openAlerts"]);
        Assert.Equal(Events.HealthyMonth(Now).Count + 2, (int)view["eventCount"]!);
    }

    [Fact]
    public async Task GetHistory_ShowsTodaysPointAndWhereTheAccountStarted_AndUnknownIs404()
    {
        var account = NewAccount("history");
        await PostAsync(server.Http, Array(Events.HealthyMonth(Now), account));
        var (response, history) = await GetAsync(server.Http, $"/v1/accounts/{account}/history");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(account, (string?)history!["account"]);
        var today = Assert.Single(history["daily"]!.AsArray())!;
        Assert.Equal(DateOnly.FromDateTime(Now.UtcDateTime).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), (string?)today["date"]);
        Assert.Equal("green", (string?)today["band"]);
        var start = Assert.Single(history["bandChanges"]!.AsArray())!;
        Assert.Null((string?)start["fromBand"]);
        Assert.Equal("green", (string?)start["toBand"]);
        var (missing, _) = await GetAsync(server.Http, $"/v1/accounts/nobody-{Guid.NewGuid():N}/history");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task GetAccount_Unknown_Is404()
    {
        var (response, body) = await GetAsync(server.Http, "/v1/accounts/no-such-account");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("no-such-account", (string?)body!["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetAccount_OnlyUsage_ReportsTheOthersAsNoData()
    {
        var account = NewAccount("usage-only");
        await PostAsync(server.Http, Array([Events.Login(Now.AddHours(-1))], account));
        var (_, view) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        Assert.True((bool)view!["components"]!["sentiment"]!["noData"]!);
        Assert.Null(view["components"]!["sentiment"]!["score"]);
        Assert.Equal(100, (double)view["components"]!["usage"]!["effectiveWeight"]!);
    }

    [Fact]
    public async Task GetModelAndCatalog_ServeTheVersionedFiles()
    {
        var (modelResponse, model) = await GetAsync(server.Http, "/v1/model");
        Assert.Equal(HttpStatusCode.OK, modelResponse.StatusCode);
        Assert.False(string.IsNullOrEmpty((string?)model!["version"]));
        Assert.Equal(35, (double)model["weights"]!["usage"]!);
        Assert.Equal(80, (double)model["bands"]!["green"]!);

        var (catalogResponse, catalog) = await GetAsync(server.Http, "/v1/catalog");
        Assert.Equal(HttpStatusCode.OK, catalogResponse.StatusCode);
        var types = catalog!["types"]!.AsArray().Select(t => (string?)t!["type"]).ToList();
        Assert.Contains("nps_response", types);
        Assert.Contains("account_updated", types);
        var nps = catalog["types"]!.AsArray().First(t => (string?)t!["type"] == "nps_response")!;
        Assert.Equal("integer", (string?)nps["properties"]!["score"]!["type"]);
        Assert.Equal(10, (double)nps["properties"]!["score"]!["max"]!);
    }

    [Fact]
    public async Task Readyz_IsReadyWhenTheSiloIsActive()
    {
        var (response, body) = await GetAsync(server.Http, "/readyz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ready", (string?)body!["status"]);
    }
}
