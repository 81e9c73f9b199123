using CsMetrics.Testing;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Alerts;

[Collection(ServerTests.Name)]
public class AlertsTests(ServerFixture server)
{
    [Fact]
    public async Task RedCrossing_AppearsInTheAlertList_NewestFirst()
    {
        var account = NewAccount("crossing");
        // A healthy month that ended three weeks ago: the account starts out of the red.
        var (_, first) = await PostAsync(server.Http, Array(Events.HealthyMonth(Now.AddDays(-20)), account));
        Assert.NotEqual("red", (string?)first!["changed"]![0]!["band"]);
        var (_, ingest) = await PostAsync(server.Http, Array(Events.ChurningAccount(Now), account));
        Assert.Equal("red", (string?)ingest!["changed"]![0]!["band"]);

        var (_, body) = await GetAsync(server.Http, "/v1/alerts?limit=1000");
        var alerts = body!["alerts"]!.AsArray();
        var mine = alerts.Where(a => (string?)a!["account"] == account).ToList();
        var red = Assert.Single(mine, a => (string?)a!["type"] == "entered_red");
        Assert.Equal("critical", (string?)red!["severity"]);
        Assert.Equal("open", (string?)red["state"]);
        Assert.NotNull(red["id"]);
        Assert.NotNull(red["at"]);

        var times = alerts.Select(a => DateTimeOffset.Parse((string)a!["at"]!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(times.OrderByDescending(t => t), times);

        var (_, view) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        Assert.Equal((string?)red["id"], (string?)view!["openAlerts"]![0]!["id"]);

        var (_, filtered) = await GetAsync(server.Http, $"/v1/alerts?account={account}");
        Assert.All(filtered!["alerts"]!.AsArray(), a => Assert.Equal(account, (string?)a!["account"]));
    }

    [Fact]
    public async Task GetAlerts_BadLimit_Is400()
    {
        var (response, body) = await GetAsync(server.Http, "/v1/alerts?limit=0");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("limit: expected 1 to 1000, got 0", (string?)body!["detail"]);
    }
}
