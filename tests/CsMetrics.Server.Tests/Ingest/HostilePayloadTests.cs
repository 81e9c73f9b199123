using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsMetrics.Contracts.Quarantine;
using CsMetrics.Server.Ingest;
using CsMetrics.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CsMetrics.Server.Tests.Ingest;

/// <summary>
/// 10,000 generated hostile payloads against every ingest endpoint: random and truncated JSON,
/// wrong types, missing fields, 1 MB strings, deep nesting, invalid UTF-8, huge numbers, duplicate
/// keys, wrong content types, NDJSON garbage, gzip bombs, and accepted ids sent again with other
/// content. No 5xx; every event of a body that parsed is accepted or quarantined with a reason;
/// the accounts accepted before the campaign are exactly as they were.
/// </summary>
// A class fixture: a node of its own, so its quarantine holds only what the campaign sent.
public class HostilePayloadTests(ServerFixture node) : IClassFixture<ServerFixture>
{
    private const int Payloads = 10_000;
    private static readonly string[] Endpoints = ["/v1/events", "/v1/track", "/v1/identify", "/v1/group", "/v1/page", "/v1/batch"];

    private sealed record Outcome(string Endpoint, string Kind, HttpStatusCode Status, string Body);

    [Fact]
    public async Task TenThousandHostilePayloads_NoServerError_NothingLost_NothingAcceptedChanged()
    {
        var ct = TestContext.Current.CancellationToken;
        // What was accepted before: five accounts with a month each.
        var known = Enumerable.Range(0, 5).Select(i => $"known-{i}-{Guid.NewGuid():N}"[..20]).ToArray();
        var acceptedIds = new List<(string Account, string Id)>();
        foreach (var account in known)
        {
            var events = Events.HealthyMonth(Envelopes.Now).Select(e => e with { Account = account }).ToList();
            acceptedIds.AddRange(events.Select(e => (account, e.Id)));
            var (response, _) = await Envelopes.PostAsync(node.Http, Envelopes.Array(events, account));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        var before = await Task.WhenAll(known.Select(Snapshot));

        var rng = new Random(20261130);
        var payloads = Enumerable.Range(0, Payloads).Select(i => Generate(rng, i, known, acceptedIds)).ToList();
        var outcomes = new ConcurrentBag<Outcome>();
        var expectedKeys = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(payloads, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (p, token) =>
        {
            using var content = new ByteArrayContent(p.Body);
            content.Headers.TryAddWithoutValidation("Content-Type", p.ContentType);
            if (p.Gzip)
            {
                content.Headers.ContentEncoding.Add("gzip");
            }
            using var response = await node.Http.PostAsync(new Uri(p.Endpoint, UriKind.Relative), content, token);
            var text = await response.Content.ReadAsStringAsync(token);
            outcomes.Add(new Outcome(p.Endpoint, p.Kind, response.StatusCode, text));
            if (response.StatusCode == HttpStatusCode.OK && p.Endpoint == "/v1/events")
            {
                // The body parsed: every element is accepted, a duplicate, or rejected with a reason (and kept).
                var answer = JsonNode.Parse(text)!;
                var elements = Elements(p.Body, p.ContentType);
                var rejected = answer["rejected"]!.AsArray();
                Assert.Equal(elements.Count, (int)answer["accepted"]! + (int)answer["duplicates"]! + rejected.Count);
                foreach (var r in rejected)
                {
                    Assert.False(string.IsNullOrWhiteSpace((string?)r!["reason"]));
                    var raw = elements[(int)r["index"]!];
                    expectedKeys.Add(EventIngestor.KeyOf("anonymous", raw.Length > QuarantinedEvent.MaxRawChars ? raw[..QuarantinedEvent.MaxRawChars] : raw));
                }
            }
            else if (response.StatusCode == HttpStatusCode.OK)
            {
                var answer = JsonNode.Parse(text)!;
                Assert.True((bool)answer["success"]!);
                var count = p.Endpoint == "/v1/batch" ? JsonNode.Parse(p.Body)!["batch"]!.AsArray().Count : 1;
                Assert.Equal(count, (int)answer["accepted"]! + (int)answer["held"]! + (int)answer["ignored"]! + (int)answer["rejected"]!);
            }
        });

        var serverErrors = outcomes.Where(o => (int)o.Status >= 500).ToList();
        Assert.True(serverErrors.Count == 0, $"{serverErrors.Count} server errors: {string.Join(", ", serverErrors.GroupBy(o => $"{o.Kind} {o.Endpoint} {(int)o.Status}").Select(g => $"{g.Key} x{g.Count()}"))}");
        Assert.Equal(Payloads, outcomes.Count);
        Assert.All(outcomes.Where(o => o.Status != HttpStatusCode.OK), o => Assert.Contains((int)o.Status, new[] { 400, 413, 415 }));
        // A good share of the campaign got past parsing, so the accounting above was exercised.
        Assert.True(outcomes.Count(o => o.Status == HttpStatusCode.OK) > Payloads / 5, $"only {outcomes.Count(o => o.Status == HttpStatusCode.OK)} bodies parsed");

        var (health, _) = await Envelopes.GetAsync(node.Http, "/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var kept = (await node.Services.GetRequiredService<IQuarantineStore>().ListAsync(null, cancellationToken: ct)).Select(e => e.Key).ToHashSet();
        var missing = expectedKeys.Distinct().Where(k => !kept.Contains(k)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} rejected events are not in the quarantine");
        Assert.NotEmpty(expectedKeys);

        var after = await Task.WhenAll(known.Select(Snapshot));
        Assert.Equal(before, after);
    }

    private async Task<string> Snapshot(string account)
    {
        var (_, view) = await Envelopes.GetAsync(node.Http, $"/v1/accounts/{account}");
        // What the events made of the account (not the score, which moves with the clock).
        return $"{view!["eventCount"]}|{view["lateEventCount"]}|{view["lastEventAt"]}|{view["profile"]!.ToJsonString()}";
    }

    private static List<string> Elements(byte[] body, string contentType)
    {
        var text = Encoding.UTF8.GetString(body);
        if (contentType.StartsWith("application/x-ndjson", StringComparison.Ordinal))
        {
            return [.. text.Split('\n').Where(l => l.Trim().Length > 0).Select(l => JsonDocument.Parse(l).RootElement.GetRawText())];
        }
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.ValueKind == JsonValueKind.Array ? [.. doc.RootElement.EnumerateArray().Select(e => e.GetRawText())] : [doc.RootElement.GetRawText()];
    }

    private sealed record Payload(string Endpoint, string Kind, byte[] Body, string ContentType, bool Gzip);

    private static Payload Generate(Random rng, int i, string[] known, List<(string Account, string Id)> accepted)
    {
        var endpoint = Endpoints[i % Endpoints.Length];
        var segment = endpoint != "/v1/events";
        string[] kinds = ["random", "truncated", "wrongTypes", "missing", "hugeString", "deep", "invalidUtf8", "hugeNumbers", "duplicateKeys", "contentType", "ndjson", "replayAltered", "valid"];
        var kind = i % 500 == 7 ? "gzipBomb" : kinds[rng.Next(kinds.Length)];
        JsonObject Base()
        {
            var account = $"hostile-{rng.Next(50)}";
            return segment
                ? new JsonObject
                {
                    ["type"] = new[] { "track", "identify", "group", "page" }[rng.Next(4)], ["messageId"] = $"h-{i}-{rng.Next()}", ["userId"] = $"u-{rng.Next(20)}",
                    ["event"] = new[] { "Login", "Feature Used", "NPS Response", "Unknown Thing" }[rng.Next(4)], ["groupId"] = $"hostile-{rng.Next(50)}",
                    ["properties"] = new JsonObject { ["score"] = rng.Next(-5, 15), ["feature"] = "reports" },
                    ["context"] = new JsonObject { ["groupId"] = $"hostile-{rng.Next(50)}" }, ["timestamp"] = Envelopes.Now.AddMinutes(-rng.Next(100000)).ToString("O"),
                }
                : new JsonObject
                {
                    ["id"] = $"h-{i}-{rng.Next()}", ["account"] = account, ["type"] = new[] { "login", "nps_response", "ticket_opened", "bogus" }[rng.Next(4)],
                    ["timestamp"] = Envelopes.Now.AddMinutes(rng.Next(-100000, 100)).ToString("O"),
                    ["properties"] = new JsonObject { ["score"] = rng.Next(-5, 15), ["ticket"] = "T-1" },
                };
        }
        // Segment events for known accounts would add new, valid events to them; the campaign only
        // touches known accounts with invalid events or replays of ids they already have.
        JsonNode Wrap(IEnumerable<JsonNode> items) => endpoint switch
        {
            "/v1/events" => new JsonArray([.. items]),
            "/v1/batch" => new JsonObject { ["batch"] = new JsonArray([.. items]) },
            _ => items.First(),
        };
        JsonNode RandomValue() => rng.Next(7) switch
        {
            0 => JsonValue.Create(rng.Next())!,
            1 => new JsonArray(1, "two", null),
            2 => new JsonObject { ["nested"] = new JsonObject { ["x"] = 1 } },
            3 => JsonValue.Create(true)!,
            4 => JsonValue.Create(new string('z', rng.Next(200, 3000)))!,
            5 => JsonValue.Create(-1e300)!,
            _ => JsonValue.Create("")!,
        };
        var json = "application/json";
        byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
        switch (kind)
        {
            case "random":
            {
                var bytes = new byte[rng.Next(1, 2000)];
                rng.NextBytes(bytes);
                return new(endpoint, kind, bytes, json, false);
            }
            case "truncated":
            {
                var text = Wrap(Enumerable.Range(0, rng.Next(1, 5)).Select(_ => (JsonNode)Base())).ToJsonString();
                return new(endpoint, kind, Utf8(text[..rng.Next(1, text.Length)]), json, false);
            }
            case "wrongTypes":
            {
                var items = Enumerable.Range(0, rng.Next(1, 6)).Select(_ =>
                {
                    var b = Base();
                    var names = b.Select(p => p.Key).ToList();
                    for (var k = 0; k < rng.Next(1, 3); k++)
                    {
                        b[names[rng.Next(names.Count)]] = RandomValue();
                    }
                    return (JsonNode)b;
                });
                return new(endpoint, kind, Utf8(Wrap(items).ToJsonString()), json, false);
            }
            case "missing":
            {
                var items = Enumerable.Range(0, rng.Next(1, 6)).Select(_ =>
                {
                    var b = Base();
                    foreach (var name in b.Select(p => p.Key).Where(_ => rng.Next(3) == 0).ToList())
                    {
                        b.Remove(name);
                    }
                    return (JsonNode)b;
                });
                return new(endpoint, kind, Utf8(Wrap(items).ToJsonString()), json, false);
            }
            case "hugeString":
            {
                var b = Base();
                b[segment ? "messageId" : "id"] = new string('A', 1_000_000);
                return new(endpoint, kind, Utf8(Wrap([b]).ToJsonString()), json, false);
            }
            case "deep":
            {
                var depth = rng.Next(70, 5000);
                var text = new StringBuilder().Append('[', depth).Append(']', depth).ToString();
                return new(endpoint, kind, Utf8(segment ? "{\"batch\":" + text + "}" : text), json, false);
            }
            case "invalidUtf8":
            {
                var text = Utf8(Wrap([Base()]).ToJsonString());
                var at = rng.Next(text.Length);
                text[at] = 0xC3;
                if (at + 1 < text.Length)
                {
                    text[at + 1] = 0x28;
                }
                return new(endpoint, kind, text, json, false);
            }
            case "hugeNumbers":
            {
                var text = Wrap([Base()]).ToJsonString().Replace("\"score\":", "\"score\":1" + new string('9', rng.Next(20, 400)) + "e400,\"was\":", StringComparison.Ordinal);
                return new(endpoint, kind, Utf8(text), json, false);
            }
            case "duplicateKeys":
            {
                var text = Wrap([Base()]).ToJsonString();
                var key = segment ? "\"messageId\":" : "\"id\":";
                text = text.Replace(key, key + "\"first\"," + key, StringComparison.Ordinal);
                return new(endpoint, kind, Utf8(text), json, false);
            }
            case "contentType":
                return new(endpoint, kind, Utf8(Wrap([Base()]).ToJsonString()), new[] { "text/plain", "application/xml", "multipart/form-data", "" }[rng.Next(4)], false);
            case "ndjson":
            {
                var lines = Enumerable.Range(0, rng.Next(1, 6)).Select(_ => rng.Next(3) == 0 ? "{not json" : Base().ToJsonString());
                return new(endpoint, kind, Utf8(string.Join('\n', lines)), "application/x-ndjson", false);
            }
            case "gzipBomb":
            {
                using var buffer = new MemoryStream();
                using (var zip = new GZipStream(buffer, CompressionLevel.SmallestSize))
                {
                    var zeros = new byte[1 << 20];
                    for (var k = 0; k < 200; k++)
                    {
                        zip.Write(zeros); // 200 MB of zeros
                    }
                }
                return new(endpoint, kind, buffer.ToArray(), json, true);
            }
            case "replayAltered":
            {
                // An id already accepted for a known account, with other content: a duplicate, never a change.
                var (account, id) = accepted[rng.Next(accepted.Count)];
                var b = new JsonObject { ["id"] = id, ["account"] = account, ["type"] = "ticket_escalated", ["timestamp"] = Envelopes.Now.ToString("O"), ["properties"] = new JsonObject { ["ticket"] = "T-evil" } };
                return new("/v1/events", kind, Utf8(new JsonArray(b).ToJsonString()), json, false);
            }
            default:
            {
                // Well-formed, for accounts the campaign owns: the accounting is exercised on bodies that parse.
                var items = Enumerable.Range(0, rng.Next(1, 6)).Select(_ =>
                {
                    var b = Base();
                    b[segment ? "groupId" : "account"] = $"hostile-{rng.Next(50)}";
                    if (segment)
                    {
                        b["context"] = new JsonObject { ["groupId"] = $"hostile-{rng.Next(50)}" };
                    }
                    return (JsonNode)b;
                });
                return new(endpoint, kind, Utf8(Wrap(items).ToJsonString()), json, false);
            }
        }
    }
}
