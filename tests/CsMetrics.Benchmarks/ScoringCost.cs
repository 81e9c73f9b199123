using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;

namespace CsMetrics.Benchmarks;

/// <summary>
/// What applying and scoring one event costs the pure engine (<see cref="AccountEngine.Apply"/>, no
/// grain, no Orleans, in the benchmark's own process): events of the load mix, one per call, to
/// accounts picked at random, over 100,000 accounts (their state far larger than the processor's
/// caches, as on a node) and over 2,000 (the same state, all of it in the cache). The difference is
/// time spent waiting for memory: every object of an account that scoring reads is a cache miss
/// when the account was last touched a while ago.
/// </summary>
public static class ScoringCost
{
    private static readonly string[] Features = ["reports", "dashboards", "alerts", "integrations", "exports", "automation", "api"];

    public static JsonObject Measure()
    {
        var result = new JsonObject();
        foreach (var accounts in new[] { 100_000, 2_000 })
        {
            var (median, all) = NanosPerEvent(accounts, warmEvents: 20, eventsPerRound: Math.Min(500_000, accounts * 10), rounds: 5);
            result[accounts.ToString(CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["nanosPerEventMedian"] = Math.Round(median),
                ["nanosPerEventRounds"] = new JsonArray([.. all.Select(n => (JsonNode)Math.Round(n))]),
            };
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  apply and score one event, {accounts:N0} accounts: median {median:N0} ns (rounds: {string.Join(' ', all.Select(n => n.ToString("N0", CultureInfo.InvariantCulture)))})"));
        }
        return result;
    }

    private static (double Median, double[] Rounds) NanosPerEvent(int accounts, int warmEvents, int eventsPerRound, int rounds)
    {
        var model = ScoringModel.Default;
        var rng = new Random(7);
        var now = TimeProvider.System.GetUtcNow();
        var n = 0;
        var states = new AccountState[accounts];
        for (var a = 0; a < accounts; a++)
        {
            states[a] = new AccountState { Account = $"acct-{a}" };
        }
        for (var r = 0; r < warmEvents; r++)
        {
            for (var a = 0; a < accounts; a++)
            {
                AccountEngine.Apply(states[a], [Next(rng, a, now, ref n)], model, now);
            }
        }
        var measured = new double[rounds];
        for (var round = 0; round < rounds; round++)
        {
            // Built before the clock starts: the measurement is the engine alone.
            var targets = new AccountState[eventsPerRound];
            var events = new HealthEvent[eventsPerRound][];
            for (var i = 0; i < eventsPerRound; i++)
            {
                var a = rng.Next(accounts);
                (targets[i], events[i]) = (states[a], [Next(rng, a, now, ref n)]);
            }
            GC.Collect();
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < eventsPerRound; i++)
            {
                AccountEngine.Apply(targets[i], events[i], model, now);
            }
            measured[round] = clock.Elapsed.TotalMilliseconds * 1e6 / eventsPerRound;
        }
        // The first rounds include the JIT's tiering; the median of the rest.
        var settled = measured.Skip(2).Order().ToArray();
        return (settled[settled.Length / 2], measured);
    }

    /// <summary>The load generator's mix (<see cref="Load.Bodies"/>), as parsed events: every string a fresh one, as parsing makes it.</summary>
    private static HealthEvent Next(Random rng, int account, DateTimeOffset now, ref int n)
    {
        var at = now.AddSeconds(-rng.Next(0, 24 * 3600));
        var (type, family, properties) = rng.Next(20) switch
        {
            < 8 => (EventTypes.Login, EventFamily.Usage, new Dictionary<string, string>()),
            < 15 => (EventTypes.FeatureUsed, EventFamily.Usage, new Dictionary<string, string> { ["feature"] = new string(Features[rng.Next(Features.Length)]) }),
            < 17 => (EventTypes.WorkflowCompleted, EventFamily.Usage, new Dictionary<string, string> { ["workflow"] = "w" }),
            17 => (EventTypes.TicketOpened, EventFamily.Support, new Dictionary<string, string> { ["ticket"] = $"T-{rng.Next(5)}", ["priority"] = new string("normal") }),
            18 => (EventTypes.NpsResponse, EventFamily.Sentiment, new Dictionary<string, string> { ["score"] = rng.Next(11).ToString(CultureInfo.InvariantCulture) }),
            _ => (EventTypes.Session, EventFamily.Usage, new Dictionary<string, string> { ["duration"] = rng.Next(60, 3600).ToString(CultureInfo.InvariantCulture) }),
        };
        return new HealthEvent($"scoring-{n++}", $"acct-{account}", type, family, at, $"u-{rng.Next(20)}", Actor.User, properties);
    }
}
