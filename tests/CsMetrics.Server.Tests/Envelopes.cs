using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsMetrics.Scoring.Events;

namespace CsMetrics.Server.Tests;

/// <summary>Turns test events into the public JSON envelope and posts them.</summary>
internal static class Envelopes
{
    public static DateTimeOffset Now => TimeProvider.System.GetUtcNow();

    public static JsonObject ToJson(HealthEvent e)
    {
        var properties = new JsonObject();
        foreach (var (name, value) in e.Properties)
        {
            properties[name] = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && !value.Contains('-', StringComparison.Ordinal)
                ? JsonValue.Create(number)
                : JsonValue.Create(value);
        }
        var json = new JsonObject
        {
            ["id"] = e.Id,
            ["account"] = e.Account,
            ["type"] = e.Type,
            ["timestamp"] = e.Timestamp.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            ["actor"] = e.Actor.ToString().ToLowerInvariant(),
            ["properties"] = properties,
        };
        if (e.User is not null)
        {
            json["user"] = e.User;
        }
        if (e.Source is not null)
        {
            json["source"] = e.Source;
        }
        return json;
    }

    public static string Array(IEnumerable<HealthEvent> events, string account) =>
        new JsonArray([.. events.Select(e => (JsonNode)ToJson(e with { Account = account }))]).ToJsonString();

    public static string Ndjson(IEnumerable<HealthEvent> events, string account) =>
        string.Join('\n', events.Select(e => ToJson(e with { Account = account }).ToJsonString()));

    public static async Task<(HttpResponseMessage Response, JsonNode? Body)> PostAsync(HttpClient http, string body, string contentType = "application/json")
    {
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var response = await http.PostAsync(new Uri("/v1/events", UriKind.Relative), content, TestContext.Current.CancellationToken);
        return (response, await ReadAsync(response));
    }

    public static async Task<(HttpResponseMessage Response, JsonNode? Body)> GetAsync(HttpClient http, string path)
    {
        var response = await http.GetAsync(new Uri(path, UriKind.Relative), TestContext.Current.CancellationToken);
        return (response, await ReadAsync(response));
    }

    private static async Task<JsonNode?> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        try
        {
            return text.Length == 0 ? null : JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return JsonValue.Create(text);
        }
    }

    public static string NewAccount(string what) => $"{what}-{Guid.NewGuid():N}"[..24];
}
