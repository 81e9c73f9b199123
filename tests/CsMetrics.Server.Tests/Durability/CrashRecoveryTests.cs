using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;
using CsMetrics.Testing;

namespace CsMetrics.Server.Tests.Durability;

[CollectionDefinition(Name)]
public sealed class DurableTests : ICollectionFixture<Azurite>
{
    public const string Name = "durable";

    /// <summary>A real-process node on the Azurite of the collection, as service <paramref name="serviceId"/>, with these settings on top.</summary>
    public static Dictionary<string, string> Node(Azurite azurite, string serviceId, params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string>
        {
            ["CsMetrics:Node:ServiceId"] = serviceId,
            ["CsMetrics:Storage:Provider"] = "AzureTable",
            ["CsMetrics:Storage:AzureTable:ConnectionString"] = azurite.ConnectionString,
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }
        return all;
    }
}

/// <summary>
/// The ingest promise with a real process: every 2xx survives kill -9 one moment later, and
/// nothing is counted twice, checked account by account against the pure scoring library.
/// </summary>
[Collection(DurableTests.Name)]
public class CrashRecoveryTests(Azurite azurite)
{
    private const int Accounts = 300;
    private const int Batches = 40;
    private const int EventsPerBatch = 250;

    private Dictionary<string, string> Settings(string serviceId, string maxUnsaved, string truncate, string replayWindowEvents) =>
        DurableTests.Node(azurite, serviceId, ("CsMetrics:Accounts:MaxUnsavedEvents", maxUnsaved), ("CsMetrics:Durability:TruncateInterval", truncate),
            ("CsMetrics:Durability:ReplayWindowEvents", replayWindowEvents));

    private static HealthEvent RandomEvent(Random rng, string id, DateTimeOffset now)
    {
        var account = $"crash-{rng.Next(Accounts)}";
        var at = now.AddMinutes(-rng.Next(0, 48 * 60));
        var e = rng.Next(10) switch
        {
            0 or 1 or 2 => Events.Login(at, id),
            3 or 4 => Events.Feature(at, new[] { "reports", "dashboards", "alerts", "api" }[rng.Next(4)]),
            5 => Events.TicketOpened(at, $"T-{rng.Next(20)}", "high"),
            6 => Events.TicketEscalated(at, $"T-{rng.Next(20)}"),
            7 => Events.Nps(at, rng.Next(11)),
            8 => Events.PaymentFailed(at),
            _ => Events.Milestone(at, $"m-{rng.Next(8)}"),
        };
        return e with { Id = id, Account = account };
    }

    [Theory]
    // Nothing checkpointed or truncated before the crash: everything comes back from the log.
    [InlineData("1000000", "01:00:00", true, "500000")]
    // The same, replayed in windows of three entries (750 events), so an account's events reach it over several calls.
    [InlineData("1000000", "01:00:00", true, "600")]
    // Accounts checkpoint after 20 unsaved events and the log is truncated every 2 s: the crash lands
    // with some accounts checkpointed, some of the log truncated, the rest only in the log.
    [InlineData("20", "00:00:02", false, "500000")]
    public async Task KillDashNine_AfterTheLastAcknowledgement_LosesNothingAndCountsNothingTwice(string maxUnsaved, string truncate, bool allFromLog, string replayWindowEvents)
    {
        var ct = TestContext.Current.CancellationToken;
        var serviceId = $"crash{Guid.NewGuid():N}"[..20];
        var rng = new Random(42);
        var now = TimeProvider.System.GetUtcNow();
        var acknowledged = new List<HealthEvent>();
        var batches = new List<string>();

        var node = await NodeProcess.StartAsync(Settings(serviceId, maxUnsaved, truncate, replayWindowEvents), cancellationToken: ct);
        try
        {
            for (var b = 0; b < Batches; b++)
            {
                var events = Enumerable.Range(0, EventsPerBatch).Select(i => RandomEvent(rng, $"crash-{b}-{i}", now)).ToList();
                var body = new JsonArray([.. events.Select(e => (JsonNode)Envelopes.ToJson(e))]).ToJsonString();
                using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
                using var response = await node.Http.PostAsync(new Uri("/v1/events", UriKind.Relative), content, ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                acknowledged.AddRange(events);
                batches.Add(body);
            }
        }
        finally
        {
            // Right after the last 2xx: no graceful shutdown, no final checkpoint.
            node.Kill();
            await node.DisposeAsync();
        }

        await using var restarted = await NodeProcess.StartAsync(Settings(serviceId, maxUnsaved, truncate, replayWindowEvents), cancellationToken: ct);
        var output = await restarted.OutputContainingAsync("Replayed", TimeSpan.FromSeconds(30), ct);
        var replayed = System.Text.RegularExpressions.Regex.Match(output, @"Replayed (\d+) log entries \((\d+) events");
        Assert.True(replayed.Success, restarted.Output);
        if (allFromLog)
        {
            Assert.Equal(Batches * EventsPerBatch, int.Parse(replayed.Groups[2].Value, CultureInfo.InvariantCulture));
        }

        // A client that never saw the last answer retries: nothing may count twice.
        using (var retry = new StringContent(batches[^1], System.Text.Encoding.UTF8, "application/json"))
        {
            using var response = await restarted.Http.PostAsync(new Uri("/v1/events", UriKind.Relative), retry, ct);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;
            Assert.Equal(0, (int)body["accepted"]!);
            Assert.Equal(EventsPerBatch, (int)body["duplicates"]!);
        }

        // The portfolio index came back too, before any account is read again (a read re-reports an
        // account): entries of accounts checkpointed before the crash come from their shard's
        // change log, the others from the replay.
        var accounts = acknowledged.Select(e => e.Account).Distinct().Count();
        JsonNode? portfolio = null;
        for (var i = 0; i < 60; i++)
        {
            portfolio = JsonNode.Parse(await restarted.Http.GetStringAsync(new Uri("/v1/portfolio", UriKind.Relative), ct));
            if ((int)portfolio!["accounts"]! == accounts)
            {
                break;
            }
            await Task.Delay(250, ct);
        }
        Assert.Equal(accounts, (int)portfolio!["accounts"]!);

        var mismatches = new List<string>();
        foreach (var group in acknowledged.GroupBy(e => e.Account))
        {
            using var response = await restarted.Http.GetAsync(new Uri($"/v1/accounts/{group.Key}", UriKind.Relative), ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var view = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct))!;

            var oracle = new AccountState();
            var at = TimeProvider.System.GetUtcNow();
            AccountEngine.Apply(oracle, [.. group], ScoringModel.Default, at);
            var expectedScore = HealthScorer.Score(oracle, ScoringModel.Default, at).Score;

            var count = (long)view["eventCount"]!;
            var score = (double?)view["score"];
            if (count != oracle.EventCount || Math.Abs((score ?? -1) - (expectedScore ?? -1)) > 0.15)
            {
                mismatches.Add(string.Create(CultureInfo.InvariantCulture, $"{group.Key}: events {count} vs {oracle.EventCount}, score {score} vs {expectedScore}"));
            }
        }
        Assert.Empty(mismatches);
        Assert.Equal(Batches * EventsPerBatch, acknowledged.Count);
    }
}
