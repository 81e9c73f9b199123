using System.Globalization;
using System.Text.Json.Nodes;

namespace CsMetrics.Benchmarks;

/// <summary>
/// What one event cost this machine's cores in each pipeline of one run, against what the cores can
/// give an event at the issues' target rates. The node, the load generator and (durable) Azurite
/// share the cores, so an event's cost is the sum of their CPU per event; when the cores are busy,
/// the rate a pipeline can reach is the cores divided by that sum. The budget shows what the baseline
/// already spends of it, and so how much is left for CsMetrics' own work at a target rate.
/// </summary>
internal static class CpuBudget
{
    /// <summary>Durable ingest at 150,000 events/s (durable state) and at 200,000 (performance).</summary>
    private static readonly int[] TargetRates = [150_000, 200_000];

    public static JsonObject? Report(string distribution, RunResult? baseline, RunResult? off, RunResult? durable)
    {
        if (baseline is null && off is null && durable is null)
        {
            return null;
        }
        var cores = Environment.ProcessorCount;
        var result = new JsonObject { ["cores"] = cores };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  what one event cost the {cores} cores, {distribution} (µs of CPU, node + load generator + Azurite; the rate the cores could carry at that cost; the rate measured):"));
        double? Line(string name, string key, RunResult? run, double? below)
        {
            if (run is null || run.Events == 0)
            {
                return null;
            }
            var generator = run.GeneratorCpuSeconds * 1e6 / run.Events;
            var azurite = run.AzuriteCpuSeconds is { } a ? a * 1e6 / run.Events : 0;
            var log = run.AzuriteBlobCpuSeconds is { } l ? l * 1e6 / run.Events : (double?)null;
            var total = run.NodeCpuMicrosPerEvent + generator + azurite;
            var ceiling = cores * 1e6 / total;
            result[key] = new JsonObject
            {
                ["nodeMicros"] = Math.Round(run.NodeCpuMicrosPerEvent, 2),
                ["loadGeneratorMicros"] = Math.Round(generator, 2),
                ["azuriteMicros"] = Math.Round(azurite, 2),
                ["azuriteEventLogMicros"] = log is { } lm ? Math.Round(lm, 2) : null,
                ["totalMicros"] = Math.Round(total, 2),
                ["ceilingEventsPerSecond"] = Math.Round(ceiling),
                ["measuredEventsPerSecond"] = Math.Round(run.EventsPerSecond),
            };
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    {name,-13} {run.NodeCpuMicrosPerEvent,5:F1} node + {generator:F1} load generator{(azurite > 0 ? $" + {azurite:F1} Azurite{(log is { } lg ? $" ({lg:F1} of it the event log's blob service)" : "")}" : "")} = {total:F1} µs{(below is { } b ? $" ({total - b:+0.0;-0.0} beyond the line above)" : "")}; the cores could carry {ceiling:N0}/s, measured {run.EventsPerSecond:N0}/s"));
            return total;
        }
        var baseCost = Line("HTTP baseline", "httpBaseline", baseline, null);
        var offCost = Line("storage off", "storageOff", off, baseCost);
        Line("durable", "durable", durable, offCost ?? baseCost);
        var budgets = new JsonObject();
        foreach (var rate in TargetRates)
        {
            var budget = cores * 1e6 / rate;
            var left = baseCost is { } b ? budget - b : (double?)null;
            budgets[rate.ToString(CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["microsPerEvent"] = Math.Round(budget, 2),
                ["leftAfterHttpBaselineMicros"] = left is { } l ? Math.Round(l, 2) : null,
            };
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    at {rate:N0} events/s the cores give an event {budget:F1} µs{(left is { } l2 ? $"; after the HTTP baseline's share, {l2:F1} µs are left for everything CsMetrics adds (scoring, de-duplication, alerts, the index, durability and Azurite)" : "")}"));
        }
        result["budgetAtTargetRates"] = budgets;
        return result;
    }
}
