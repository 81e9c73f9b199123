using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsMetrics.Benchmarks;
using CsMetrics.Testing;

// The CsMetrics benchmark. From the repository root:
//   dotnet run -c Release --project tests/CsMetrics.Benchmarks -- [--accounts 100000[,1000000]] [--events 2000000]
//       [--run-seconds 15] [--warmup-seconds 20] [--distributions uniform,zipf] [--batch 500] [--concurrency 8] [--phases state,scoring,baseline,off,durable,latency,overload,recovery] [--max-requests-in-flight N] [--overload-concurrency 128]
//       [--recovery-accounts 100000] [--recovery-events 2] [--activation-seconds 120] [--truncate-interval 00:01:00] [--out artifacts/bench.json]
// It starts Azurite and CsMetrics nodes as processes of their own and drives them over HTTP from this
// process (the load generator), whose CPU time it reports: everything shares the machine's cores.
var options = BenchOptions.Parse(args);
var report = new JsonObject
{
    ["machine"] = Machine.Describe(),
    ["command"] = "dotnet run -c Release --project tests/CsMetrics.Benchmarks -- " + string.Join(' ', args),
    ["settings"] = JsonSerializer.SerializeToNode(options, BenchJson.Default.BenchOptions),
};
Console.WriteLine($"machine: {report["machine"]}");

var table = new List<Row>();
var scales = new JsonArray();
report["scales"] = scales;
try
{
    if (options.Runs("state"))
    {
        Console.WriteLine("account state (in this process, no node):");
        report["accountState"] = StateSize.Measure();
    }
    if (options.Runs("scoring"))
    {
        Console.WriteLine("scoring one event (in this process, no node):");
        report["scoringCost"] = ScoringCost.Measure();
    }
    foreach (var accounts in options.Runs("baseline") || options.Runs("off") || options.Runs("durable") ? options.AccountCounts : [])
    {
        // A fresh Azurite per scale: Azurite slows down as its single-file database grows.
        await using var azurite = new Azurite();
        await azurite.InitializeAsync();
        scales.Add(await Scale.RunAsync(accounts, azurite, options, table));
    }
    if (options.RecoveryAccounts > 0 && options.Runs("recovery"))
    {
        report["recovery"] = await Recovery.MeasureAsync(options);
    }
}
finally
{
    // Whatever was measured is written, even if a later phase failed.
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Out))!);
    await File.WriteAllTextAsync(options.Out, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"wrote {options.Out}");
}

Console.WriteLine();
Console.WriteLine("| accounts | distribution | pipeline | events/s | request p50 ms | request p99 ms | node CPU µs/event | vs HTTP baseline | vs engine baseline | load generator CPU s |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
foreach (var r in table)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {r.Accounts:N0} | {r.Distribution} | {r.Pipeline} | {r.EventsPerSecond:N0} | {r.P50:F1} | {r.P99:F1} | {r.CpuMicrosPerEvent:F1} | {Ratio(r.VsHttpBaseline)} | {Ratio(r.VsEngineBaseline)} | {r.GeneratorCpuSeconds:F1} |"));
}


static string Ratio(double? value) => value is { } v ? v.ToString("F2", CultureInfo.InvariantCulture) : "";
