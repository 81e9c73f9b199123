using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CsMetrics.Testing;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Ingest;

[Collection(ServerTests.Name)]
public class PostEventsTests(ServerFixture server)
{
    [Fact]
    public async Task Post_HealthyAccount_IsGreen()
    {
        var account = NewAccount("healthy");
        var (response, body) = await PostAsync(server.Http, Array(Events.HealthyMonth(Now), account));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var change = Assert.Single(body!["changed"]!.AsArray());
        Assert.Equal(account, (string?)change!["account"]);
        Assert.Equal("green", (string?)change["band"]);
        Assert.True((double)change["to"]! >= 80);
        Assert.Empty(body["rejected"]!.AsArray());
    }

    [Fact]
    public async Task Post_SlippingAccount_IsRed()
    {
        var account = NewAccount("slipping");
        var (_, body) = await PostAsync(server.Http, Array(Events.ChurningAccount(Now), account));
        var change = Assert.Single(body!["changed"]!.AsArray());
        Assert.Equal("red", (string?)change!["band"]);
        Assert.True((double)change["to"]! < 60);
    }

    [Fact]
    public async Task Post_ThreeBadEventsAmongAHundred_AcceptsTheRestAndNamesEachBadOne()
    {
        var account = NewAccount("mixed");
        var events = Enumerable.Range(0, 100).Select(i => ToJson(Events.Login(Now.AddMinutes(-i), id: $"{account}-{i}") with { Account = account })).ToList();
        events[5]["type"] = "nps_response";
        events[5]["properties"] = new JsonObject { ["score"] = "ten" };
        events[42].Remove("timestamp");
        events[77]["actor"] = "robot";
        var (response, body) = await PostAsync(server.Http, new JsonArray([.. events]).ToJsonString());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(97, (int)body!["accepted"]!);
        Assert.Equal(0, (int)body["duplicates"]!);
        var rejected = body["rejected"]!.AsArray();
        Assert.Equal([5, 42, 77], rejected.Select(r => (int)r!["index"]!));
        Assert.Equal([$"{account}-5", $"{account}-42", $"{account}-77"], rejected.Select(r => (string?)r!["id"]));
        Assert.Equal("properties.score: expected integer 0..10, got \"ten\"", (string?)rejected[0]!["reason"]);
        Assert.StartsWith("timestamp: expected an ISO 8601 date-time", (string?)rejected[1]!["reason"], StringComparison.Ordinal);
        Assert.Equal("actor: expected one of user, bot, system, got \"robot\"", (string?)rejected[2]!["reason"]);

        var (_, view) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        Assert.Equal(97, (int)view!["eventCount"]!);
    }

    [Fact]
    public async Task Post_SameBatchTwice_CountsItOnce()
    {
        var account = NewAccount("retry");
        var body = Array(Events.HealthyMonth(Now), account);
        var (_, first) = await PostAsync(server.Http, body);
        var (second, again) = await PostAsync(server.Http, body);
        var accepted = (int)first!["accepted"]!;

        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(0, (int)again!["accepted"]!);
        Assert.Equal(accepted, (int)again["duplicates"]!);
        Assert.Empty(again["changed"]!.AsArray());
        var (_, view) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        Assert.Equal(accepted, (int)view!["eventCount"]!);
    }

    [Fact]
    public async Task Post_SameEventTwiceInOneBody_CountsItOnce()
    {
        var account = NewAccount("twice");
        var login = Events.Login(Now.AddMinutes(-1), id: $"{account}-only");
        var (_, body) = await PostAsync(server.Http, Array([login, login], account));
        Assert.Equal(1, (int)body!["accepted"]!);
        Assert.Equal(1, (int)body["duplicates"]!);
    }

    [Fact]
    public async Task Post_RepeatsAmongManyEventsOfOneAccount_AreCountedOnce_AndAnotherAccountMayUseTheSameId()
    {
        // Past the few events per account that the ingest compares one by one.
        var account = NewAccount("many");
        var other = NewAccount("many-other");
        var logins = Enumerable.Range(0, 30).Select(i => Events.Login(Now.AddMinutes(-40 + i), id: $"many-{i}")).ToList();
        var body = new JsonArray([
            .. logins.Select(e => (JsonNode)ToJson(e with { Account = account })),
            ToJson(logins[2] with { Account = account }),
            ToJson(logins[20] with { Account = account }),
            ToJson(logins[25] with { Account = other }),
        ]).ToJsonString();
        var (_, answer) = await PostAsync(server.Http, body);
        Assert.Equal(31, (int)answer!["accepted"]!);
        Assert.Equal(2, (int)answer["duplicates"]!);
        var (_, view) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        Assert.Equal(30, (int)view!["eventCount"]!);
        var (_, otherView) = await GetAsync(server.Http, $"/v1/accounts/{other}");
        Assert.Equal(1, (int)otherView!["eventCount"]!);
    }

    [Fact]
    public async Task Post_Ndjson_IsAccepted()
    {
        var account = NewAccount("ndjson");
        var events = Events.HealthyMonth(Now);
        var (response, body) = await PostAsync(server.Http, Ndjson(events, account) + "\n\n", "application/x-ndjson");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(events.Count, (int)body!["accepted"]!);
    }

    [Fact]
    public async Task Post_MalformedJson_Is400NamingLineAndPosition()
    {
        var (response, body) = await PostAsync(server.Http, "[\n  {\"id\": \"a\",\n   \"account\": }\n]");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("body is not valid JSON at line 3, position 15:", (string?)body!["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_MalformedNdjsonLine_Is400NamingTheLineAndAcceptsNothing()
    {
        var account = NewAccount("badline");
        var lines = Ndjson([Events.Login(Now.AddMinutes(-2)), Events.Login(Now.AddMinutes(-1))], account) + "\n{\"id\": oops}\n";
        var (response, body) = await PostAsync(server.Http, lines, "application/x-ndjson");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("body is not valid NDJSON at line 3, position 8:", (string?)body!["detail"], StringComparison.Ordinal);
        var (notFound, _) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
    }

    [Fact]
    public async Task Post_BodyOverFourMegabytes_Is413StatingTheLimit()
    {
        var huge = "[" + string.Join(',', Enumerable.Repeat("{\"id\":\"" + new string('x', 1000) + "\"}", 4200)) + "]";
        var (response, body) = await PostAsync(server.Http, huge);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("at most 4194304 bytes", (string?)body!["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_MoreThanFiveThousandEvents_Is413()
    {
        var account = NewAccount("many");
        var (response, body) = await PostAsync(server.Http, Array(Enumerable.Range(0, 5001).Select(i => Events.Login(Now.AddSeconds(-i))), account));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("body: at most 5000 events per request, got 5001; split the batch", (string?)body!["detail"]);
    }

    [Fact]
    public async Task Post_WrongContentType_Is415()
    {
        using var content = new StringContent("a=b", Encoding.UTF8, "application/x-www-form-urlencoded");
        var response = await server.Http.PostAsync(new Uri("/v1/events", UriKind.Relative), content, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Post_EmptyArray_AcceptsNothing()
    {
        var (response, body) = await PostAsync(server.Http, "[]");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, (int)body!["accepted"]!);
    }
}
