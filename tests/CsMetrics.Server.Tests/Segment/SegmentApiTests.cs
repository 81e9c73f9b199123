using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Segment;

/// <summary>The Segment HTTP Tracking API over real HTTP: mapping, clock skew, gzip, limits, held events.</summary>
[Collection(ServerTests.Name)]
public class SegmentApiTests(ServerFixture server)
{
    private async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(string path, string json, bool gzip = false)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        if (gzip)
        {
            using var buffer = new MemoryStream();
            using (var zip = new GZipStream(buffer, CompressionLevel.Fastest))
            {
                zip.Write(bytes);
            }
            bytes = buffer.ToArray();
        }
        using var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        if (gzip)
        {
            content.Headers.ContentEncoding.Add("gzip");
        }
        using var response = await server.Http.PostAsync(new Uri(path, UriKind.Relative), content, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private async Task<JsonNode?> AccountAsync(string account)
    {
        var (response, body) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        return response.IsSuccessStatusCode ? body : null;
    }

    [Fact]
    public async Task Track_WithContextGroupId_IsApplied_WithTheClientsClockSkewCorrected()
    {
        var account = NewAccount("seg-skew");
        // The client's clock runs 3 hours fast: it says the event happened at its 12:55 and sent it at its 13:00.
        var clientNow = Now.AddHours(3);
        var message = new JsonObject
        {
            ["messageId"] = $"m-{Guid.NewGuid():N}",
            ["userId"] = "u-1",
            ["event"] = "Feature Used",
            ["properties"] = new JsonObject { ["feature"] = "reports" },
            ["context"] = new JsonObject { ["groupId"] = account, ["library"] = new JsonObject { ["name"] = "analytics-python" } },
            ["timestamp"] = clientNow.AddMinutes(-5).ToString("O"),
            ["sentAt"] = clientNow.ToString("O"),
        };
        var (status, body) = await SendAsync("/v1/track", message.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True((bool)body!["success"]!);
        Assert.Equal(1, (int)body["accepted"]!);
        var view = await AccountAsync(account);
        var lastEventAt = DateTimeOffset.Parse((string)view!["lastEventAt"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(lastEventAt, Now.AddMinutes(-6), Now.AddMinutes(-4)); // five minutes ago by the server's clock

        // The same messageId again (an SDK retry) counts once.
        var (_, again) = await SendAsync("/v1/track", message.ToJsonString());
        Assert.Equal(1, (int)again!["duplicates"]!);
        Assert.Equal(1, (int)(await AccountAsync(account))!["eventCount"]!);
    }

    [Fact]
    public async Task GzipBatch_OfAnUnknownUser_IsHeld_UntilAGroupCallNamesTheAccount()
    {
        var account = NewAccount("seg-held");
        var user = $"u-{Guid.NewGuid():N}";
        JsonObject Track(string feature) => new()
        {
            ["type"] = "track", ["messageId"] = $"m-{Guid.NewGuid():N}", ["userId"] = user, ["event"] = "feature_used",
            ["properties"] = new JsonObject { ["feature"] = feature }, ["timestamp"] = Now.ToString("O"),
        };
        var batch = new JsonObject { ["batch"] = new JsonArray(Track("reports"), Track("exports")), ["sentAt"] = Now.ToString("O") };
        var (status, body) = await SendAsync("/v1/batch", batch.ToJsonString(), gzip: true);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((0, 2), ((int)body!["accepted"]!, (int)body["held"]!));
        Assert.Null(await AccountAsync(account));

        var group = new JsonObject
        {
            ["messageId"] = $"g-{Guid.NewGuid():N}", ["userId"] = user, ["groupId"] = account,
            ["traits"] = new JsonObject { ["name"] = "Held Co", ["plan"] = "growth" },
        };
        var (_, grouped) = await SendAsync("/v1/group", group.ToJsonString());
        Assert.True((bool)grouped!["success"]!);
        var view = await AccountAsync(account);
        Assert.Equal(3, (int)view!["eventCount"]!); // the two held events and the traits
        Assert.Equal(("Held Co", "growth"), ((string?)view["profile"]!["name"], (string?)view["profile"]!["plan"]));

        // Now the user is known: a plain track goes straight to the account.
        var (_, direct) = await SendAsync("/v1/track", Track("api").ToJsonString());
        Assert.Equal(1, (int)direct!["accepted"]!);
    }

    [Fact]
    public async Task AnAnonymousVisitorsTrack_FollowedInTheSameBatchByAGroupCall_IsApplied_NotLeftHeld()
    {
        var account = NewAccount("seg-anon");
        var anonymous = $"anon-{Guid.NewGuid():N}";
        var batch = new JsonObject
        {
            ["batch"] = new JsonArray(
                new JsonObject { ["type"] = "track", ["messageId"] = $"t-{anonymous}", ["anonymousId"] = anonymous, ["event"] = "Login" },
                new JsonObject { ["type"] = "group", ["messageId"] = $"g-{anonymous}", ["userId"] = $"u-{anonymous}", ["anonymousId"] = anonymous, ["groupId"] = account }),
        };
        var (_, body) = await SendAsync("/v1/batch", batch.ToJsonString());
        Assert.Equal((1, 0), ((int)body!["accepted"]!, (int)body["held"]!));
        Assert.Equal(1, (int)(await AccountAsync(account))!["eventCount"]!);

        // The same visitor, now known by its user id: straight to the account.
        var (_, later) = await SendAsync("/v1/track", new JsonObject { ["messageId"] = $"t2-{anonymous}", ["userId"] = $"u-{anonymous}", ["event"] = "Login" }.ToJsonString());
        Assert.Equal(1, (int)later!["accepted"]!);
    }

    [Fact]
    public async Task BadMessages_AreQuarantinedWithTheirReason_WhileTheBatchSucceeds()
    {
        var marker = Guid.NewGuid().ToString("N");
        var account = NewAccount("seg-bad");
        var batch = new JsonObject
        {
            ["batch"] = new JsonArray(
                new JsonObject { ["type"] = "track", ["messageId"] = $"ok-{marker}", ["event"] = "Login", ["userId"] = "u", ["context"] = new JsonObject { ["groupId"] = account } },
                new JsonObject { ["type"] = "track", ["messageId"] = $"unmapped-{marker}", ["event"] = "Confetti Thrown", ["userId"] = "u", ["context"] = new JsonObject { ["groupId"] = account } },
                new JsonObject { ["type"] = "track", ["event"] = "Login", ["userId"] = "u" },
                new JsonObject { ["type"] = "track", ["messageId"] = $"score-{marker}", ["event"] = "NPS Response", ["properties"] = new JsonObject { ["score"] = "ten" }, ["context"] = new JsonObject { ["groupId"] = account } },
                new JsonObject { ["type"] = "teleport", ["messageId"] = $"type-{marker}" }),
        };
        var (status, body) = await SendAsync("/v1/batch", batch.ToJsonString());
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal((1, 4), ((int)body!["accepted"]!, (int)body["rejected"]!));

        var (_, list) = await GetAsync(server.Http, "/v1/quarantine?limit=1000");
        var reasons = list!["events"]!.AsArray().Where(e => (string?)e!["raw"] is { } raw && raw.Contains(marker, StringComparison.Ordinal) || (string?)e!["raw"] == """{"type":"track","event":"Login","userId":"u"}""")
            .Select(e => (string)e!["reason"]!).ToList();
        Assert.Contains("event: \"Confetti Thrown\" maps to no catalog type (map it in CsMetrics:Segment:EventTypes, or add a type \"confetti_thrown\" to the catalog)", reasons);
        Assert.Contains(reasons, r => r.StartsWith("messageId: expected a non-empty string", StringComparison.Ordinal));
        Assert.Contains("properties.score: expected integer 0..10, got \"ten\"", reasons);
        Assert.Contains("type: expected one of track, identify, group, page, screen, alias, got \"teleport\"", reasons);
        Assert.All(list["events"]!.AsArray().Where(e => ((string?)e!["raw"])?.Contains(marker, StringComparison.Ordinal) == true),
            e => Assert.Equal("segment", (string?)e!["format"]));
    }

    [Theory]
    [InlineData("Report Exported", "report_exported")]
    [InlineData("reportExported", "report_exported")]
    [InlineData("report-exported", "report_exported")]
    [InlineData("NPS Response", "nps_response")]
    [InlineData("  Feature   Used ", "feature_used")]
    public void TrackNames_MapToCatalogTypesBySnakeCase(string name, string type) =>
        Assert.Equal(type, CsMetrics.Server.Segment.SegmentIngest.SnakeCase(name));

    [Fact]
    public async Task Limits_AndUnreadableBodies_Are400WithSegmentsShape()
    {
        var big = new JsonObject { ["batch"] = new JsonArray([.. Enumerable.Range(0, 30).Select(_ => (JsonNode)new JsonObject { ["pad"] = new string('x', 20_000) })]) };
        var (status, body) = await SendAsync("/v1/batch", big.ToJsonString());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.False((bool)body!["success"]!);
        Assert.Equal("body: at most 512000 bytes per batch (Segment's limit)", (string?)body["message"]);

        var (tooBigMessage, messageBody) = await SendAsync("/v1/track", new JsonObject { ["pad"] = new string('x', 40_000) }.ToJsonString());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBigMessage);
        Assert.Equal("body: at most 32768 bytes per message (Segment's limit)", (string?)messageBody!["message"]);

        // A gzip bomb stops at the limit, not at the end of the bomb.
        var (bomb, bombBody) = await SendAsync("/v1/batch", "{\"batch\":[" + new string(' ', 50_000_000) + "]}", gzip: true);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, bomb);
        Assert.Equal("body: at most 512000 bytes per batch (Segment's limit) once decompressed", (string?)bombBody!["message"]);

        var (notJson, notJsonBody) = await SendAsync("/v1/batch", "{\"batch\": [");
        Assert.Equal(HttpStatusCode.BadRequest, notJson);
        Assert.StartsWith("body: not valid JSON", (string?)notJsonBody!["message"], StringComparison.Ordinal);
    }
}
