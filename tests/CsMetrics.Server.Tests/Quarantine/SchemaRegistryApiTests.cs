using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Quarantine;

/// <summary>The schema registry over HTTP, and replaying the quarantine after a type is published.</summary>
[Collection(ServerTests.Name)]
public class SchemaRegistryApiTests(ServerFixture server)
{
    private async Task<(HttpStatusCode Status, JsonNode? Body)> PostAsync(string path, string? json)
    {
        using var content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await server.Http.PostAsync(new Uri(path, UriKind.Relative), content, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private static string Type(string name, int version, string properties) =>
        $"{{\"type\": \"{name}\", \"family\": \"usage\", \"version\": {version}, \"properties\": {{{properties}}}}}";

    private static string Event(string id, string account, string type, string properties, int? version = null) =>
        new JsonObject
        {
            ["id"] = id, ["account"] = account, ["type"] = type, ["timestamp"] = Now.ToString("O"),
            ["properties"] = JsonNode.Parse("{" + properties + "}"), ["version"] = version,
        }.ToJsonString();

    [Fact]
    public async Task QuarantinedEventsOfAnUnknownType_AreAcceptedOnceTheTypeIsPublished_ExactlyOnce()
    {
        var type = $"invoice_viewed_{Guid.NewGuid():N}"[..28];
        var account = NewAccount("registry");
        var events = "[" + string.Join(",", Enumerable.Range(0, 4).Select(i => Event($"{type}-{i}", account, type, "\"invoice\": \"INV-" + i + "\""))) + "]";
        var (_, ingest) = await Envelopes.PostAsync(server.Http, events);
        Assert.Equal(4, ingest!["rejected"]!.AsArray().Count);

        var (published, body) = await PostAsync("/v1/catalog/types", Type(type, 1, "\"invoice\": {\"type\": \"string\", \"required\": true}"));
        Assert.Equal(HttpStatusCode.Created, published);
        Assert.Equal((type, 1), ((string?)body!["type"], (int)body["version"]!));

        var (_, replay) = await PostAsync($"/v1/quarantine/replay?reason=type:%20unknown%20event%20type%20%22{type}", null);
        Assert.Equal((4, 4), ((int)replay!["replayed"]!, (int)replay["accepted"]!));
        var (_, again) = await PostAsync($"/v1/quarantine/replay?reason=type:%20unknown%20event%20type%20%22{type}", null);
        Assert.Equal(0, (int)again!["replayed"]!);
        var (_, view) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        Assert.Equal(4, (int)view!["eventCount"]!);
    }

    [Fact]
    public async Task BreakingChanges_Are409_NewVersionsKeepOldProducersWorking()
    {
        var type = $"report_made_{Guid.NewGuid():N}"[..24];
        var account = NewAccount("versions");
        Assert.Equal(HttpStatusCode.Created, (await PostAsync("/v1/catalog/types", Type(type, 1, "\"format\": {\"type\": \"string\", \"required\": true}"))).Status);

        var (refused, problem) = await PostAsync("/v1/catalog/types", Type(type, 1, "\"layout\": {\"type\": \"string\", \"required\": false}"));
        Assert.Equal(HttpStatusCode.Conflict, refused);
        Assert.Equal("properties.format: removing a required property: that breaks producers sending version 1; publish it as version 2", (string?)problem!["detail"]);

        var (v2, _) = await PostAsync("/v1/catalog/types", Type(type, 2, "\"format\": {\"type\": \"string\", \"required\": true}, \"pages\": {\"type\": \"integer\", \"required\": true}"));
        Assert.Equal(HttpStatusCode.Created, v2);
        var (_, listed) = await GetAsync(server.Http, $"/v1/catalog/types/{type}");
        Assert.Equal([1, 2], listed!.AsArray().Select(t => (int)t!["version"]!));

        // A producer still sending version 1's shape (no version named) is accepted; naming version 2 without pages is not.
        var (_, old) = await Envelopes.PostAsync(server.Http, "[" + Event($"{type}-old", account, type, "\"format\": \"pdf\"") + "]");
        Assert.Equal(1, (int)old!["accepted"]!);
        var (_, named) = await Envelopes.PostAsync(server.Http, "[" + Event($"{type}-v2", account, type, "\"format\": \"pdf\"", version: 2) + "]");
        Assert.StartsWith("properties.pages: required", (string?)named!["rejected"]![0]!["reason"], StringComparison.Ordinal);

        var (bad, badProblem) = await PostAsync("/v1/catalog/types", "{\"type\": \"Not A Name\", \"family\": \"weather\"}");
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.Contains("family: expected one of usage, support, sentiment, outcomes, billing, account", (string?)badProblem!["detail"], StringComparison.Ordinal);
    }
}
