using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using CsMetrics.Server.Access;
using CsMetrics.Testing;
using Microsoft.AspNetCore.Hosting;

namespace CsMetrics.Server.Tests.Access;

/// <summary>A node with API keys: scopes, the ways a key may be sent, and per-key rate limits, over real HTTP.</summary>
public sealed class KeyedServerFixture : ServerFixture
{
    public const string IngestKey = "ingest-key-0123456789abcdef";
    public const string ReadKey = "read-key-0123456789abcdef";
    public const string AdminKey = "admin-key-0123456789abcdef";
    public const string SlowKey = "slow-key-0123456789abcdef";

    protected override void Configure(IWebHostBuilder builder)
    {
        builder.UseSetting("CsMetrics:Segment:EventTypes:Report Exported", "feature_used");
        (string Name, string Key, string[] Scopes, double Rate, int Burst)[] keys =
        [
            ("product-backend", IngestKey, ["ingest"], 0, 1),
            ("cs-team", ReadKey, ["read"], 0, 1),
            ("ops", AdminKey, ["admin", "read"], 0, 1),
            ("slow-producer", SlowKey, ["ingest"], 0.5, 2),
        ];
        for (var i = 0; i < keys.Length; i++)
        {
            builder.UseSetting($"CsMetrics:Access:Keys:{i}:Name", keys[i].Name);
            builder.UseSetting($"CsMetrics:Access:Keys:{i}:Hash", ApiKeys.HashOf(keys[i].Key));
            for (var s = 0; s < keys[i].Scopes.Length; s++)
            {
                builder.UseSetting($"CsMetrics:Access:Keys:{i}:Scopes:{s}", keys[i].Scopes[s]);
            }
            builder.UseSetting($"CsMetrics:Access:Keys:{i}:RequestsPerSecond", keys[i].Rate.ToString(System.Globalization.CultureInfo.InvariantCulture));
            builder.UseSetting($"CsMetrics:Access:Keys:{i}:Burst", keys[i].Burst.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}

public class AccessTests(KeyedServerFixture node) : IClassFixture<KeyedServerFixture>
{
    private static string Body() => Envelopes.Array([Events.Login(Envelopes.Now)], Envelopes.NewAccount("keyed"));

    private async Task<(HttpStatusCode Status, HttpResponseMessage Response, JsonNode? Body)> SendAsync(HttpMethod method, string path, Action<HttpRequestHeaders>? auth, string? json = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        auth?.Invoke(request.Headers);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }
        var response = await node.Http.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return (response.StatusCode, response, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private static Action<HttpRequestHeaders> Bearer(string key) => h => h.Authorization = new AuthenticationHeaderValue("Bearer", key);

    [Fact]
    public async Task NoKey_Is401_SayingHowToSendOne_AndHealthStaysOpen()
    {
        var (status, response, body) = await SendAsync(HttpMethod.Post, "/v1/events", null, Body());
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("needs a key with scope 'ingest'", (string?)body!["detail"], StringComparison.Ordinal);
        Assert.NotEmpty(response.Headers.WwwAuthenticate);
        var (unknown, _, unknownBody) = await SendAsync(HttpMethod.Get, "/v1/alerts", Bearer("not-a-configured-key"));
        Assert.Equal(HttpStatusCode.Unauthorized, unknown);
        Assert.Equal("Authorization: the key presented is not configured on this node", (string?)unknownBody!["detail"]);
        var (health, _, _) = await SendAsync(HttpMethod.Get, "/healthz", null);
        Assert.Equal(HttpStatusCode.OK, health);
    }

    [Fact]
    public async Task WrongScope_Is403_NamingTheScopeNeeded()
    {
        var (status, _, body) = await SendAsync(HttpMethod.Post, "/v1/events", Bearer(KeyedServerFixture.ReadKey), Body());
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("scope: POST /v1/events needs scope 'ingest'; key 'cs-team' has read", (string?)body!["detail"]);
        var (admin, _, adminBody) = await SendAsync(HttpMethod.Get, "/v1/webhooks", Bearer(KeyedServerFixture.ReadKey));
        Assert.Equal(HttpStatusCode.Forbidden, admin);
        Assert.Contains("needs scope 'admin'", (string?)adminBody!["detail"], StringComparison.Ordinal);
        var (ok, _, _) = await SendAsync(HttpMethod.Get, "/v1/webhooks", Bearer(KeyedServerFixture.AdminKey));
        Assert.Equal(HttpStatusCode.OK, ok);
        var (read, _, _) = await SendAsync(HttpMethod.Get, "/v1/alerts", Bearer(KeyedServerFixture.ReadKey));
        Assert.Equal(HttpStatusCode.OK, read);
    }

    [Fact]
    public async Task AnIngestKey_WorksAsBearer_AsXApiKey_AndAsTheBasicUser_LikeASegmentWriteKey()
    {
        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes(KeyedServerFixture.IngestKey + ":"));
        Action<HttpRequestHeaders>[] ways =
        [
            Bearer(KeyedServerFixture.IngestKey),
            h => h.Add("X-Api-Key", KeyedServerFixture.IngestKey),
            h => h.Authorization = new AuthenticationHeaderValue("Basic", basic),
        ];
        foreach (var way in ways)
        {
            var (status, _, body) = await SendAsync(HttpMethod.Post, "/v1/events", way, Body());
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal(1, (int)body!["accepted"]!);
        }
    }

    [Fact]
    public async Task PastItsRate_AKeyGets429_WithRetryAfter_AndOtherKeysAreUnaffected()
    {
        HttpStatusCode last = HttpStatusCode.OK;
        HttpResponseMessage? limited = null;
        JsonNode? problem = null;
        for (var i = 0; i < 5 && last != HttpStatusCode.TooManyRequests; i++)
        {
            (last, limited, problem) = await SendAsync(HttpMethod.Post, "/v1/events", Bearer(KeyedServerFixture.SlowKey), Body());
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, last);
        Assert.True(int.Parse(limited!.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.StartsWith("rate: key 'slow-producer' is over its limit", (string?)problem!["detail"], StringComparison.Ordinal);
        var (other, _, _) = await SendAsync(HttpMethod.Post, "/v1/events", Bearer(KeyedServerFixture.IngestKey), Body());
        Assert.Equal(HttpStatusCode.OK, other);
    }
}
