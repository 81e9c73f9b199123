using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CsMetrics.Server.Tests.Access;
using CsMetrics.Server.Tests.Durability;
using CsMetrics.Testing;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Quarantine;

/// <summary>Rejected events are kept with their reason and producer, counted, and listed.</summary>
[Collection(ServerTests.Name)]
public class QuarantineTests(ServerFixture server)
{
    [Fact]
    public async Task RejectedEvents_AreKeptOnce_WithReasonAndProducer_AndCounted()
    {
        var account = NewAccount("quarantine");
        var marker = Guid.NewGuid().ToString("N");
        JsonObject Envelope(string id, string type, JsonObject? properties = null) => new()
        {
            ["id"] = $"{id}-{marker}",
            ["account"] = account,
            ["type"] = type,
            ["timestamp"] = Now.ToString("O"),
            ["properties"] = properties ?? [],
        };
        var body = new JsonArray(
            Envelope("ok", "login"),
            Envelope("bad-1", "nps_response", new JsonObject { ["score"] = "ten" }),
            Envelope("bad-2", "nps_response", new JsonObject { ["score"] = "eleven" }),
            Envelope("bad-3", $"no_such_type_{marker}")).ToJsonString();
        var (first, ingest) = await PostAsync(server.Http, body);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(1, (int)ingest!["accepted"]!);
        Assert.Equal(3, ingest["rejected"]!.AsArray().Count);
        await PostAsync(server.Http, body); // the same body again: kept once

        var (_, list) = await GetAsync(server.Http, "/v1/quarantine?limit=1000");
        var mine = list!["events"]!.AsArray().Where(e => ((string?)e!["eventId"])?.EndsWith(marker, StringComparison.Ordinal) == true).ToList();
        Assert.Equal(3, mine.Count);
        var score = Assert.Single(mine, e => (string?)e!["eventId"] == $"bad-1-{marker}")!;
        Assert.Equal("properties.score: expected integer 0..10, got \"ten\"", (string?)score["reason"]);
        Assert.Equal("anonymous", (string?)score["producer"]);
        Assert.Equal("native", (string?)score["format"]);
        Assert.Contains("\"ten\"", (string?)score["raw"], StringComparison.Ordinal);
        Assert.True((int)list["byReason"]!["properties.score: expected integer 0..10"]! >= 2);
        Assert.True((int)list["byProducer"]!["anonymous"]! >= 3);

        var (_, filtered) = await GetAsync(server.Http, "/v1/quarantine?reason=type:%20unknown%20event%20type");
        Assert.All(filtered!["events"]!.AsArray(), e => Assert.StartsWith("type: unknown event type", (string?)e!["reason"], StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnEventOlderThanTheGraceWindow_IsCountedLate_AndKeptFlagged_NotReplayed()
    {
        var account = NewAccount("late");
        var id = $"late-{Guid.NewGuid():N}";
        var old = Now.AddDays(-400); // the test node's grace window is a year
        var (_, ingest) = await PostAsync(server.Http, $$"""[{"id":"{{id}}","account":"{{account}}","type":"login","timestamp":"{{old:O}}"}]""");
        Assert.Equal((1, 1), ((int)ingest!["accepted"]!, (int)ingest["late"]!));
        var (_, list) = await GetAsync(server.Http, "/v1/quarantine?reason=late&limit=1000");
        var late = Assert.Single(list!["events"]!.AsArray(), e => (string?)e!["eventId"] == id)!;
        Assert.StartsWith("late: event time", (string?)late["reason"], StringComparison.Ordinal);
        Assert.True((int)list["late"]! >= 1);
    }
}

/// <summary>A producer whose share of rejected events jumps raises one schema-drift alert.</summary>
public class DriftTests(KeyedServerFixture node) : IClassFixture<KeyedServerFixture>
{
    [Fact]
    public async Task ARejectionRateJump_RaisesASchemaDriftAlertNamingTheProducerAndReason()
    {
        var account = NewAccount("drift");
        var bad = new JsonArray([.. Enumerable.Range(0, 30).Select(i => (JsonNode)new JsonObject
        {
            ["id"] = $"drift-{i}-{Guid.NewGuid():N}",
            ["account"] = account,
            ["type"] = "nps_response",
            ["timestamp"] = Now.ToString("O"),
            ["properties"] = new JsonObject { ["rating"] = 9 }, // renamed from "score" by the producer
        })]).ToJsonString();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/events", UriKind.Relative))
        {
            Content = new StringContent(bad, Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", KeyedServerFixture.IngestKey);
        using var response = await node.Http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        JsonNode? alert = null;
        for (var i = 0; i < 100 && alert is null; i++)
        {
            using var get = new HttpRequestMessage(HttpMethod.Get, new Uri("/v1/alerts?type=schema_drift&account=producer:product-backend", UriKind.Relative));
            get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", KeyedServerFixture.ReadKey);
            using var answer = await node.Http.SendAsync(get, TestContext.Current.CancellationToken);
            alert = JsonNode.Parse(await answer.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!["alerts"]!.AsArray().FirstOrDefault();
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
        Assert.NotNull(alert);
        Assert.Equal("warning", (string?)alert["severity"]);
        Assert.Contains("producer \"product-backend\" had 100 % of its events rejected", (string?)alert["cause"], StringComparison.Ordinal);
        Assert.Contains("properties.score: required integer 0..10 is missing", (string?)alert["cause"], StringComparison.Ordinal);

        // The producer sees its own rejects, with its ingest key.
        using var mine = new HttpRequestMessage(HttpMethod.Get, new Uri("/v1/quarantine/mine?limit=1000", UriKind.Relative));
        mine.Headers.Authorization = new AuthenticationHeaderValue("Bearer", KeyedServerFixture.IngestKey);
        using var own = await node.Http.SendAsync(mine, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        var list = JsonNode.Parse(await own.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.True((int)list["byReason"]!["properties.score: required integer 0..10 is missing"]! >= 30);
        Assert.Equal(["product-backend"], list["byProducer"]!.AsObject().Select(p => p.Key));
    }
}

/// <summary>After a catalog fix, replay ingests what was quarantined, exactly once, across a restart.</summary>
[Collection(DurableTests.Name)]
public class QuarantineReplayTests(Azurite azurite)
{
    [Fact]
    public async Task ReplayAfterACatalogChange_AcceptsTheFixedEventsExactlyOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        var serviceId = $"replay{Guid.NewGuid():N}"[..20];
        var account = NewAccount("replay");
        var catalog = Path.Combine(Path.GetTempPath(), $"catalog-{Guid.NewGuid():N}.json");
        File.WriteAllText(catalog, """
            {"version": 1, "types": [{"type": "report_exported", "family": "usage", "version": 1,
              "properties": {"format": {"type": "enum", "required": true, "values": ["pdf", "csv"]}}}]}
            """);
        Dictionary<string, string> Settings(bool withCatalog)
        {
            var settings = new Dictionary<string, string>
            {
                ["CsMetrics:Node:ServiceId"] = serviceId,
                ["CsMetrics:Storage:Provider"] = "AzureTable",
                ["CsMetrics:Storage:AzureTable:ConnectionString"] = azurite.ConnectionString,
            };
            if (withCatalog)
            {
                settings["CsMetrics:Model:CatalogPath"] = catalog;
            }
            return settings;
        }
        var events = new JsonArray([.. Enumerable.Range(0, 5).Select(i => (JsonNode)new JsonObject
        {
            ["id"] = $"export-{i}",
            ["account"] = account,
            ["type"] = "report_exported",
            ["timestamp"] = Now.AddMinutes(-i).ToString("O"),
            ["properties"] = new JsonObject { ["format"] = "pdf" },
        })]).ToJsonString();
        try
        {
            await using (var before = await NodeProcess.StartAsync(Settings(withCatalog: false), cancellationToken: ct))
            {
                var (_, ingest) = await PostAsync(before.Http, events);
                Assert.Equal(5, ingest!["rejected"]!.AsArray().Count);
                // Nothing in the catalog fixes them yet: a replay keeps them.
                using var early = await before.Http.PostAsync(new Uri("/v1/quarantine/replay", UriKind.Relative), null, ct);
                var earlyBody = JsonNode.Parse(await early.Content.ReadAsStringAsync(ct))!;
                Assert.Equal((5, 0, 5), ((int)earlyBody["replayed"]!, (int)earlyBody["accepted"]!, (int)earlyBody["stillRejected"]!));
            }

            await using var after = await NodeProcess.StartAsync(Settings(withCatalog: true), cancellationToken: ct);
            var (_, listed) = await GetAsync(after.Http, "/v1/quarantine?reason=type:");
            Assert.Equal(5, listed!["events"]!.AsArray().Count(e => (string?)e!["eventId"] is { } id && id.StartsWith("export-", StringComparison.Ordinal)));
            using var replay = await after.Http.PostAsync(new Uri("/v1/quarantine/replay", UriKind.Relative), null, ct);
            var body = JsonNode.Parse(await replay.Content.ReadAsStringAsync(ct))!;
            Assert.Equal((5, 5, 0), ((int)body["replayed"]!, (int)body["accepted"]!, (int)body["stillRejected"]!));
            using var again = await after.Http.PostAsync(new Uri("/v1/quarantine/replay", UriKind.Relative), null, ct);
            Assert.Equal(0, (int)JsonNode.Parse(await again.Content.ReadAsStringAsync(ct))!["replayed"]!);

            var (_, view) = await GetAsync(after.Http, $"/v1/accounts/{account}");
            Assert.Equal(5, (int)view!["eventCount"]!);
            // The producer sends them again (a retry): still counted once.
            var (_, retry) = await PostAsync(after.Http, events);
            Assert.Equal(5, (int)retry!["duplicates"]!);
            var (_, afterRetry) = await GetAsync(after.Http, $"/v1/accounts/{account}");
            Assert.Equal(5, (int)afterRetry!["eventCount"]!);
        }
        finally
        {
            File.Delete(catalog);
        }
    }
}
