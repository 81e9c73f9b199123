using System.Net;
using System.Text;
using System.Text.Json.Nodes;
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

        // Alerts reach the inbox a moment after the ingest that raised them.
        JsonArray alerts;
        JsonNode? red;
        var deadline = Now.AddSeconds(10);
        do
        {
            var (_, body) = await GetAsync(server.Http, "/v1/alerts?limit=1000");
            alerts = body!["alerts"]!.AsArray();
            red = alerts.SingleOrDefault(a => (string?)a!["account"] == account && (string?)a["type"] == "entered_red");
        }
        while (red is null && Now < deadline && await Delay());
        Assert.NotNull(red);
        Assert.Equal("critical", (string?)red!["severity"]);
        Assert.Equal("open", (string?)red["state"]);
        Assert.NotNull(red["id"]);
        Assert.NotNull(red["at"]);

        var times = alerts.Select(a => DateTimeOffset.Parse((string)a!["at"]!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(times.OrderByDescending(t => t), times);

        var (_, view) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        Assert.Contains(view!["openAlerts"]!.AsArray(), a => (string?)a!["id"] == (string?)red["id"]);

        var (_, filtered) = await GetAsync(server.Http, $"/v1/alerts?account={account}");
        Assert.All(filtered!["alerts"]!.AsArray(), a => Assert.Equal(account, (string?)a!["account"]));
    }

    private static async Task<bool> Delay()
    {
        await Task.Delay(50, TestContext.Current.CancellationToken);
        return true;
    }

    private async Task<(HttpStatusCode Status, JsonNode? Body)> PostToAsync(string path, string? json = null)
    {
        using var content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await server.Http.PostAsync(new Uri(path, UriKind.Relative), content, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private async Task<JsonNode> RedAlertAsync(string account)
    {
        await Envelopes.PostAsync(server.Http, Array(Events.HealthyMonth(Now.AddDays(-20)), account));
        await Envelopes.PostAsync(server.Http, Array(Events.ChurningAccount(Now), account));
        var deadline = Now.AddSeconds(10);
        while (true)
        {
            var (_, body) = await GetAsync(server.Http, $"/v1/alerts?account={account}&type=entered_red");
            if (body!["alerts"]!.AsArray().FirstOrDefault() is { } alert)
            {
                return alert;
            }
            Assert.True(Now < deadline, "no red alert within 10 s");
            await Delay();
        }
    }

    [Fact]
    public async Task Inbox_AckAssignSnoozeResolve_OverHttp_WithFiltersAndClearErrors()
    {
        var account = NewAccount("inbox");
        var id = (string)(await RedAlertAsync(account))["id"]!;

        var (status, acked) = await PostToAsync($"/v1/alerts/{id}/ack");
        Assert.Equal((HttpStatusCode.OK, "acknowledged"), (status, (string?)acked!["state"]));
        var (_, assigned) = await PostToAsync($"/v1/alerts/{id}/assign", """{"owner": "enterprise-cs"}""");
        Assert.Equal("enterprise-cs", (string?)assigned!["owner"]);
        var (_, byOwner) = await GetAsync(server.Http, "/v1/alerts?owner=enterprise-cs&state=acknowledged&severity=critical");
        Assert.Contains(byOwner!["alerts"]!.AsArray(), a => (string?)a!["id"] == id);
        var (_, other) = await GetAsync(server.Http, $"/v1/alerts?account={account}&state=resolved");
        Assert.Empty(other!["alerts"]!.AsArray());

        var until = Now.AddHours(2);
        var (_, snoozed) = await PostToAsync($"/v1/alerts/{id}/snooze", $$"""{"until": "{{until:O}}"}""");
        Assert.Equal("snoozed", (string?)snoozed!["state"]);
        Assert.Equal(until, DateTimeOffset.Parse((string)snoozed["snoozedUntil"]!, System.Globalization.CultureInfo.InvariantCulture));

        var (badSnooze, problem) = await PostToAsync($"/v1/alerts/{id}/snooze", """{"until": "tomorrow-ish"}""");
        Assert.Equal(HttpStatusCode.BadRequest, badSnooze);
        Assert.StartsWith("until: expected an ISO 8601 time", (string?)problem!["detail"], StringComparison.Ordinal);
        var (badOwner, ownerProblem) = await PostToAsync($"/v1/alerts/{id}/assign", """{"owner": 42}""");
        Assert.Equal(HttpStatusCode.BadRequest, badOwner);
        Assert.Equal("owner: expected who owns the alert (1 to 200 characters), got 42", (string?)ownerProblem!["detail"]);

        var (_, resolved) = await PostToAsync($"/v1/alerts/{id}/resolve", """{"note": "renewal call went well"}""");
        Assert.Equal(("resolved", "renewal call went well"), ((string?)resolved!["state"], (string?)resolved["resolution"]));
        var (conflict, conflictProblem) = await PostToAsync($"/v1/alerts/{id}/ack");
        Assert.Equal(HttpStatusCode.Conflict, conflict);
        Assert.Contains("is resolved", (string?)conflictProblem!["detail"], StringComparison.Ordinal);
        var (missing, _) = await PostToAsync("/v1/alerts/al-0/ack");
        Assert.Equal(HttpStatusCode.NotFound, missing);
    }

    [Theory]
    [InlineData("severity=urgent", "severity: expected one of critical, warning, informational, opportunity, got \"urgent\"")]
    [InlineData("state=closed", "state: expected one of open, acknowledged, snoozed, resolved, got \"closed\"")]
    [InlineData("type=churned", "type: expected one of entered_red, entered_yellow, recovered, sharp_drop, gone_silent, payment_failed, expansion_signal, escalated, source_silent, schema_drift, got \"churned\"")]
    public async Task GetAlerts_UnknownFilterValue_Is400NamingIt(string query, string detail)
    {
        var (response, body) = await GetAsync(server.Http, $"/v1/alerts?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(detail, (string?)body!["detail"]);
    }

    [Fact]
    public async Task Webhooks_BadDefinitions_AreRefusedByField_AndSecretsAreNeverListed()
    {
        var (status, problem) = await PostToAsync("/v1/webhooks", """{"url": "ftp://example.org/x", "secret": "short", "severities": ["critical", "loud"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var detail = (string)problem!["detail"]!;
        Assert.Contains("url: expected an absolute http or https URL, got \"ftp://example.org/x\"", detail, StringComparison.Ordinal);
        Assert.Contains("secret: expected a string of 16 to 256 characters", detail, StringComparison.Ordinal);
        Assert.Contains("severities[1]: expected one of critical, warning, informational, opportunity, got \"loud\"", detail, StringComparison.Ordinal);

        var (created, hook) = await PostToAsync("/v1/webhooks", """{"url": "http://127.0.0.1:9/never", "secret": "0123456789abcdef-secret"}""");
        Assert.Equal(HttpStatusCode.Created, created);
        var id = (string)hook!["id"]!;
        var (_, list) = await GetAsync(server.Http, "/v1/webhooks");
        var listed = Assert.Single(list!["webhooks"]!.AsArray(), w => (string?)w!["id"] == id)!;
        Assert.DoesNotContain("secret", listed.ToJsonString(), StringComparison.OrdinalIgnoreCase);

        using var deleted = await server.Http.DeleteAsync(new Uri($"/v1/webhooks/{id}", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        var (gone, _) = await GetAsync(server.Http, $"/v1/webhooks/{id}/deliveries");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task GetAlerts_BadLimit_Is400()
    {
        var (response, body) = await GetAsync(server.Http, "/v1/alerts?limit=0");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("limit: expected 1 to 1000, got 0", (string?)body!["detail"]);
    }
}
