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
                AccountEngine.Apply(states[a], [ParsedLoad.Event(rng, $"scoring-{n++}", $"acct-{a}", now)], model, now);
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
                (targets[i], events[i]) = (states[a], [ParsedLoad.Event(rng, $"scoring-{n++}", $"acct-{a}", now)]);
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
}
