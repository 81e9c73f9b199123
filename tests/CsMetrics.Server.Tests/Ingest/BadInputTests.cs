using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CsMetrics.Testing;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Ingest;

/// <summary>Bad input gets a clear 4xx or a per-event rejection, never a 5xx.</summary>
[Collection(ServerTests.Name)]
public class BadInputTests(ServerFixture server)
{
    private async Task<(HttpStatusCode Status, string Body)> PostBytesAsync(byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var response = await server.Http.PostAsync(new Uri("/v1/events", UriKind.Relative), content, TestContext.Current.CancellationToken);
        return (response.StatusCode, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task InvalidUtf8_Is400NamingTheOffset()
    {
        var body = Encoding.UTF8.GetBytes("[{\"id\":\"e\",\"account\":\"ac").Concat(new byte[] { 0xFF, 0xFE }).Concat(Encoding.UTF8.GetBytes("me\",\"type\":\"login\",\"timestamp\":\"2026-11-23T10:15:00Z\"}]")).ToArray();
        var (status, text) = await PostBytesAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("not valid UTF-8 (first bad byte at offset 24)", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DuplicateKeys_AreRefusedNotGuessed()
    {
        var (response, body) = await PostAsync(server.Http, """[{"id":"d1","account":"x","account":"y","type":"login","timestamp":"2026-11-23T10:15:00Z"}]""");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("Duplicate property 'account'", (string?)body!["detail"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoneSurrogateEscape_RejectsThatEventOnly()
    {
        var account = NewAccount("surrogate");
        var good = ToJson(Events.Login(Now.AddMinutes(-1)) with { Account = account }).ToJsonString();
        var (response, body) = await PostAsync(server.Http, $$"""[{"id":"s1","account":"x\ud800","type":"login","timestamp":"2026-11-23T10:15:00Z"},{{good}}]""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (int)body!["accepted"]!);
        Assert.StartsWith("$: a string in this event is not valid Unicode", (string?)body["rejected"]![0]!["reason"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeepNesting_Is400()
    {
        var (response, _) = await PostAsync(server.Http, "[" + new string('[', 500) + new string(']', 500) + "]");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task MutatedBodies_NeverGetA5xx_AndNeverChangeWhatWasAccepted()
    {
        var account = NewAccount("fuzz");
        var valid = Encoding.UTF8.GetBytes(Array(Events.HealthyMonth(Now).Take(20), account));
        await PostBytesAsync(valid);
        var (_, before) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        var rng = new Random(20261124);
        for (var i = 0; i < 300; i++)
        {
            var body = (byte[])valid.Clone();
            switch (i % 4)
            {
                case 0:
                    body = body[..rng.Next(body.Length)];
                    break;
                case 1:
                    for (var k = 0; k < 5; k++)
                    {
                        body[rng.Next(body.Length)] = (byte)rng.Next(256);
                    }
                    break;
                case 2:
                    var at = rng.Next(body.Length);
                    body = [.. body[..at], .. Encoding.UTF8.GetBytes(new[] { "\"", "{", "]", ",", "null", "1e999", "\\u0000" }[rng.Next(7)]), .. body[at..]];
                    break;
                default:
                    body = [.. body.Where(_ => rng.Next(50) != 0)];
                    break;
            }
            var (status, text) = await PostBytesAsync(body);
            Assert.True((int)status < 500, $"mutation {i}: {(int)status} {text}");
        }
        var (_, after) = await GetAsync(server.Http, $"/v1/accounts/{account}");
        // Mutations may add events to the account (a flipped byte can still be a valid event),
        // but none of the accepted ones is lost.
        Assert.True((int)after!["eventCount"]! >= (int)before!["eventCount"]!);
    }
}
