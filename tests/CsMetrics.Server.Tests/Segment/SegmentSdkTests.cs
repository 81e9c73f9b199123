using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using CsMetrics.Server.Tests.Access;
using CsMetrics.Testing;

namespace CsMetrics.Server.Tests.Segment;

/// <summary>
/// The official Segment and RudderStack Node SDKs (installed from npm by the test command into
/// tests/sdk), pointed at a running CsMetrics with an ingest key as their write key.
/// </summary>
public class SegmentSdkTests(KeyedServerFixture node) : IClassFixture<KeyedServerFixture>
{
    [Theory]
    [InlineData("segment", "Acme via Segment")]
    [InlineData("rudderstack", "Acme via RudderStack")]
    public async Task AnSdk_SendsGroupTrackAndPage_AndTheAccountShowsThem(string sdk, string name)
    {
        var account = Envelopes.NewAccount(sdk);
        var user = $"u-{Guid.NewGuid():N}";
        var late = $"late-{Guid.NewGuid():N}";
        var script = Path.Combine(Azurite.RepositoryRoot, "tests", "sdk", "send.js");
        Assert.True(Directory.Exists(Path.Combine(Azurite.RepositoryRoot, "tests", "sdk", "node_modules")),
            "tests/sdk/node_modules is missing: deploy/test.sh installs the SDKs with npm ci");
        var start = new ProcessStartInfo("node", [script, sdk, node.Http.BaseAddress!.ToString().TrimEnd('/'), KeyedServerFixture.IngestKey, account, user, late])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        Assert.True(process.ExitCode == 0, $"the {sdk} SDK script failed: {await output} {await errors}");

        // group traits (account_updated), Feature Used, Login, page (activity), NPS Response, and the
        // late user's Feature Used, held until its group call: six events.
        JsonNode? view = null;
        for (var i = 0; i < 100 && (int?)view?["eventCount"] != 6; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/v1/accounts/{account}", UriKind.Relative));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", KeyedServerFixture.ReadKey);
            using var response = await node.Http.SendAsync(request, TestContext.Current.CancellationToken);
            var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            view = response.IsSuccessStatusCode ? JsonNode.Parse(text) : null;
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        Assert.NotNull(view);
        Assert.Equal(6, (int)view["eventCount"]!);
        Assert.Equal(name, (string?)view["profile"]!["name"]);
        Assert.Equal(40, (int)view["profile"]!["seats"]!);
        Assert.False((bool)view["components"]!["usage"]!["noData"]!);
        Assert.False((bool)view["components"]!["sentiment"]!["noData"]!);
    }
}

/// <summary>Track event names mapped to catalog types by configuration (CsMetrics:Segment:EventTypes).</summary>
public class SegmentMappingTests(KeyedServerFixture node) : IClassFixture<KeyedServerFixture>
{
    [Fact]
    public async Task AConfiguredName_MapsToItsCatalogType()
    {
        var account = Envelopes.NewAccount("mapped");
        var message = new JsonObject
        {
            ["messageId"] = $"m-{Guid.NewGuid():N}", ["userId"] = "u-1", ["event"] = "Report Exported",
            ["properties"] = new JsonObject { ["feature"] = "exports" }, ["context"] = new JsonObject { ["groupId"] = account },
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/track", UriKind.Relative))
        {
            Content = new StringContent(message.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(KeyedServerFixture.IngestKey + ":")));
        using var response = await node.Http.SendAsync(request, TestContext.Current.CancellationToken);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal(1, (int)body["accepted"]!);

        using var get = new HttpRequestMessage(HttpMethod.Get, new Uri($"/v1/accounts/{account}", UriKind.Relative));
        get.Headers.Authorization = new AuthenticationHeaderValue("Bearer", KeyedServerFixture.ReadKey);
        using var view = await node.Http.SendAsync(get, TestContext.Current.CancellationToken);
        var account_ = JsonNode.Parse(await view.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal(1, (int)account_["eventCount"]!);
        Assert.False((bool)account_["components"]!["usage"]!["noData"]!); // a feature_used: usage
    }
}
