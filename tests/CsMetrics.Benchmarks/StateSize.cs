using System.Globalization;
using System.Text.Json.Nodes;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;

namespace CsMetrics.Benchmarks;

/// <summary>
/// The heap one account's state keeps (AccountState alone, no grain, no Orleans) after 2, 10, 30
/// and 100 events of the load generator's mix, each event applied as it would be on arrival: what
/// the state costs as an account lives, where "memory per live account" measures the whole node
/// at the point the benchmark reached.
/// </summary>
public static class StateSize
{
    public static JsonObject Measure()
    {
        var result = new JsonObject();
        foreach (var events in new[] { 2, 10, 30, 100 })
        {
            var (bytes, allocated) = Retained(accounts: 5_000, events);
            result[events.ToString(CultureInfo.InvariantCulture)] = new JsonObject { ["retainedBytes"] = Math.Round(bytes), ["allocatedBytesPerEvent"] = Math.Round(allocated) };
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  account state after {events} events: {bytes:N0} B retained; applying and scoring an event allocates {allocated:N0} B"));
        }
        return result;
    }

    private static (double Bytes, double AllocatedPerEvent) Retained(int accounts, int events)
    {
        var model = ScoringModel.Default;
        var rng = new Random(7);
        var now = TimeProvider.System.GetUtcNow();
        var states = new AccountState[accounts];
        var before = GC.GetTotalMemory(forceFullCollection: true);
        long allocatedBefore = 0;
        var n = 0;
        for (var round = 0; round < events; round++)
        {
            if (round == events / 2)
            {
                allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            }
            for (var a = 0; a < accounts; a++)
            {
                states[a] ??= new AccountState();
                var e = ParsedLoad.Event(rng, $"state-{n++}", $"acct-{a}", now);
                AccountEngine.Apply(states[a], [e], model, now);
            }
        }
        var allocated = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / (double)(accounts * (events - events / 2));
        var after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(states);
        return ((after - before) / (double)accounts, allocated);
    }
}
