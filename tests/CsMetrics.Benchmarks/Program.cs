using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsMetrics.Benchmarks;
using CsMetrics.Testing;

// CsMetrics durability benchmark: durable ingest vs the same pipeline with storage off, and the
// time to recover accounts after kill -9. Usage (from the repository root):
//   dotnet run -c Release --project tests/CsMetrics.Benchmarks -- [--accounts 100000] [--events 300000]
//       [--batch 500] [--concurrency 8] [--recovery-accounts 100000] [--out artifacts/bench-durability.json]
var options = BenchOptions.Parse(args);
var report = new JsonObject
{
    ["machine"] = $"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1 << 30)} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}",
    ["settings"] = JsonSerializer.SerializeToNode(options, BenchJson.Default.BenchOptions),
};

var azurite = new Azurite();
await azurite.InitializeAsync();
try
{
    Console.WriteLine($"generating {options.Events:N0} events over {options.Accounts:N0} accounts in {options.Batch}-event batches ...");
    var bodies = Load.Bodies("run", options.Events, options.Accounts, options.Batch, seed: 1);
    var warmup = Load.Bodies("warm", options.Accounts, options.Accounts, options.Batch, seed: 2, everyAccount: true);

    var results = new List<RunResult>();
    if (options.Runs("off"))
    {
        var off = await Load.MeasureAsync("storage off (Memory provider)", Node.Memory(), warmup, bodies, options);
        report["storageOff"] = off.ToJson();
        results.Add(off);
    }
    if (options.Runs("durable"))
    {
        var on = await Load.MeasureAsync("durable (Azure Table on Azurite)", Node.Durable(azurite.ConnectionString, $"bench{Guid.NewGuid():N}"[..20], options), warmup, bodies, options);
        report["durable"] = on.ToJson();
        results.Add(on);
    }

    Console.WriteLine();
    Console.WriteLine("| pipeline | events/s | request p50 ms | request p99 ms | node CPU µs/event | load generator CPU s |");
    Console.WriteLine("|---|---|---|---|---|---|");
    foreach (var r in results)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {r.Name} | {r.EventsPerSecond:N0} | {r.P50:F1} | {r.P99:F1} | {r.NodeCpuMicrosPerEvent:F1} | {r.GeneratorCpuSeconds:F1} |"));
    }
    if (results.Count == 2)
    {
        var ratio = results[1].EventsPerSecond / results[0].EventsPerSecond;
        report["durableToStorageOffRatio"] = Math.Round(ratio, 3);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"durable / storage off: {ratio:F2}"));
    }

    if (options.RecoveryAccounts > 0 && options.Runs("recovery"))
    {
        var recovery = await Recovery.MeasureAsync(azurite.ConnectionString, options);
        report["recovery"] = recovery;
    }
}
finally
{
    await azurite.DisposeAsync();
}

Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Out))!);
await File.WriteAllTextAsync(options.Out, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"wrote {options.Out}");
