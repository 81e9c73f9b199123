using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using CsMetrics.Testing;

namespace CsMetrics.Benchmarks;

public sealed class BenchOptions
{
    public int Accounts { get; set; } = 100_000;
    public int Events { get; set; } = 300_000;
    public int Batch { get; set; } = 500;
    public int Concurrency { get; set; } = 8;
    public int RecoveryAccounts { get; set; } = 100_000;
    public string Out { get; set; } = "artifacts/bench-durability.json";
    /// <summary>CsMetrics:Durability:TruncateInterval of the durable node (empty: the node's default).</summary>
    public string TruncateInterval { get; set; } = "";

    /// <summary>Which phases to run: off, durable, recovery (comma-separated).</summary>
    public string Phases { get; set; } = "off,durable,recovery";

    public bool Runs(string phase) => Phases.Split(',').Contains(phase);

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            switch (args[i])
            {
                case "--accounts": o.Accounts = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--events": o.Events = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--batch": o.Batch = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--concurrency": o.Concurrency = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--recovery-accounts": o.RecoveryAccounts = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--out": o.Out = value; break;
                case "--phases": o.Phases = value; break;
                case "--truncate-interval": o.TruncateInterval = value; break;
                default: throw new ArgumentException($"unknown option {args[i]} (expected --accounts, --events, --batch, --concurrency, --recovery-accounts, --phases, --truncate-interval, --out)");
            }
        }
        return o;
    }
}

[JsonSerializable(typeof(BenchOptions))]
internal sealed partial class BenchJson : JsonSerializerContext;

internal static class Node
{
    /// <summary>Storage off: no event log, and no checkpoint during the measurement.</summary>
    public static Dictionary<string, string> Memory() => new()
    {
        ["CsMetrics:Storage:Provider"] = "Memory",
        ["CsMetrics:Accounts:MaxUnsavedEvents"] = "1000000",
    };

    public static Dictionary<string, string> Durable(string connection, string serviceId, BenchOptions? options = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["CsMetrics:Node:ServiceId"] = serviceId,
            ["CsMetrics:Storage:Provider"] = "AzureTable",
            ["CsMetrics:Storage:AzureTable:ConnectionString"] = connection,
        };
        if (options is { TruncateInterval.Length: > 0 })
        {
            settings["CsMetrics:Durability:TruncateInterval"] = options.TruncateInterval;
        }
        return settings;
    }
}

public sealed record RunResult(string Name, int Events, double Seconds, double P50, double P99, double NodeCpuMicrosPerEvent, double GeneratorCpuSeconds, int Failed, double ActivationEventsPerSecond)
{
    public double EventsPerSecond => Events / Seconds;

    public JsonObject ToJson() => new()
    {
        ["name"] = Name,
        ["events"] = Events,
        ["seconds"] = Math.Round(Seconds, 2),
        ["eventsPerSecond"] = Math.Round(EventsPerSecond),
        ["requestP50Ms"] = Math.Round(P50, 2),
        ["requestP99Ms"] = Math.Round(P99, 2),
        ["nodeCpuMicrosPerEvent"] = Math.Round(NodeCpuMicrosPerEvent, 2),
        ["loadGeneratorCpuSeconds"] = Math.Round(GeneratorCpuSeconds, 2),
        ["failedRequests"] = Failed,
        ["activationEventsPerSecond"] = Math.Round(ActivationEventsPerSecond),
    };
}

internal static class Load
{
    private static readonly string[] Features = ["reports", "dashboards", "alerts", "integrations", "exports", "automation", "api"];

    /// <summary>Pre-serialized bodies, so the measurement does not include building them.</summary>
    /// <param name="everyAccount">Give account i the i-th event (in order), so every account gets one: the warm-up activates them all.</param>
    public static List<byte[]> Bodies(string prefix, int events, int accounts, int batch, int seed, bool everyAccount = false)
    {
        var rng = new Random(seed);
        var now = TimeProvider.System.GetUtcNow();
        var bodies = new List<byte[]>(events / batch + 1);
        var sb = new StringBuilder(batch * 200);
        for (var start = 0; start < events; start += batch)
        {
            sb.Clear().Append('[');
            for (var i = start; i < Math.Min(events, start + batch); i++)
            {
                if (i > start)
                {
                    sb.Append(',');
                }
                var account = everyAccount ? i % accounts : rng.Next(accounts);
                var at = now.AddSeconds(-rng.Next(0, 24 * 3600)).ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
                var (type, props) = rng.Next(20) switch
                {
                    < 8 => ("login", "{}"),
                    < 15 => ("feature_used", $"{{\"feature\":\"{Features[rng.Next(Features.Length)]}\"}}"),
                    < 17 => ("workflow_completed", "{\"workflow\":\"w\"}"),
                    17 => ("ticket_opened", $"{{\"ticket\":\"T-{rng.Next(5)}\",\"priority\":\"normal\"}}"),
                    18 => ("nps_response", $"{{\"score\":{rng.Next(11)}}}"),
                    _ => ("session", $"{{\"duration\":{rng.Next(60, 3600)}}}"),
                };
                sb.Append(CultureInfo.InvariantCulture, $"{{\"id\":\"{prefix}-{i}\",\"account\":\"acct-{account}\",\"type\":\"{type}\",\"timestamp\":\"{at}\",\"user\":\"u-{rng.Next(20)}\",\"properties\":{props}}}");
            }
            sb.Append(']');
            bodies.Add(Encoding.UTF8.GetBytes(sb.ToString()));
        }
        return bodies;
    }

    public static async Task<RunResult> MeasureAsync(string name, Dictionary<string, string> settings, List<byte[]> warmup, List<byte[]> bodies, BenchOptions options)
    {
        Console.WriteLine($"{name}: starting a node ...");
        await using var node = await NodeProcess.StartAsync(settings);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency }) { BaseAddress = node.Address, Timeout = TimeSpan.FromMinutes(2) };
        // The warm-up activates every account (its first event), so the measurement is steady-state ingest.
        var warmClock = Stopwatch.StartNew();
        await PostAllAsync(http, warmup, options.Concurrency);
        var activationRate = warmup.Count * options.Batch / warmClock.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: activated {options.Accounts:N0} accounts at {activationRate:N0} first events/s; measuring {bodies.Count} requests ..."));
        var cpuBefore = node.TotalProcessorTime;
        var myCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var (latencies, failed) = await PostAllAsync(http, bodies, options.Concurrency);
        var seconds = clock.Elapsed.TotalSeconds;
        var nodeCpu = (node.TotalProcessorTime - cpuBefore).TotalSeconds;
        var myCpu = (Process.GetCurrentProcess().TotalProcessorTime - myCpuBefore).TotalSeconds;
        latencies.Sort();
        var events = bodies.Count * options.Batch;
        var result = new RunResult(name, events, seconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99), nodeCpu * 1e6 / events, myCpu, failed, activationRate);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {result.EventsPerSecond:N0} events/s, p50 {result.P50:F1} ms, p99 {result.P99:F1} ms, {failed} failed requests"));
        return result;
    }

    public static async Task<(List<double> Latencies, int Failed)> PostAllAsync(HttpClient http, List<byte[]> bodies, int concurrency)
    {
        var latencies = new List<double>(bodies.Count);
        var failed = 0;
        var next = -1;
        var workers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < bodies.Count)
            {
                var started = Stopwatch.GetTimestamp();
                using var content = new ByteArrayContent(bodies[i]);
                content.Headers.ContentType = new("application/json");
                using var response = await http.PostAsync(new Uri("/v1/events", UriKind.Relative), content);
                var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                lock (latencies)
                {
                    latencies.Add(ms);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        failed++;
                    }
                }
            }
        });
        await Task.WhenAll(workers);
        return (latencies, failed);
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}

internal static class Recovery
{
    /// <summary>
    /// Gives every one of N accounts events that exist only in the log (no checkpoint, no
    /// truncation), kills the node with SIGKILL, restarts it and times until it is ready again:
    /// the log replayed into every account.
    /// </summary>
    public static async Task<JsonObject> MeasureAsync(string connection, BenchOptions options)
    {
        var accounts = options.RecoveryAccounts;
        var serviceId = $"recover{Guid.NewGuid():N}"[..20];
        var settings = Node.Durable(connection, serviceId);
        settings["CsMetrics:Accounts:MaxUnsavedEvents"] = "1000000";
        settings["CsMetrics:Durability:TruncateInterval"] = "01:00:00";

        // Two events per account, each account once per body position: every account is touched.
        var bodies = new List<byte[]>();
        var now = TimeProvider.System.GetUtcNow().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        for (var start = 0; start < accounts * 2; start += options.Batch)
        {
            sb.Clear().Append('[');
            for (var i = start; i < Math.Min(accounts * 2, start + options.Batch); i++)
            {
                sb.Append(i > start ? "," : "").Append(CultureInfo.InvariantCulture,
                    $"{{\"id\":\"r-{i}\",\"account\":\"acct-{i % accounts}\",\"type\":\"login\",\"timestamp\":\"{now}\",\"user\":\"u-1\"}}");
            }
            bodies.Add(Encoding.UTF8.GetBytes(sb.Append(']').ToString()));
        }

        Console.WriteLine($"recovery: loading {accounts:N0} accounts ({accounts * 2:N0} events) ...");
        var node = await NodeProcess.StartAsync(settings);
        using (var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency }) { BaseAddress = node.Address, Timeout = TimeSpan.FromMinutes(5) })
        {
            var (_, failed) = await Load.PostAllAsync(http, bodies, options.Concurrency);
            if (failed > 0)
            {
                Console.WriteLine($"recovery: {failed} requests failed while loading");
            }
        }
        var workingSet = node.WorkingSet;
        node.Kill();
        await node.DisposeAsync();

        Console.WriteLine("recovery: killed with SIGKILL; restarting ...");
        var clock = Stopwatch.StartNew();
        await using var restarted = await NodeProcess.StartAsync(settings);
        var seconds = clock.Elapsed.TotalSeconds;
        var probe = await restarted.Http.GetStringAsync(new Uri($"/v1/accounts/acct-{accounts - 1}", UriKind.Relative));
        var count = (int)JsonNode.Parse(probe)!["eventCount"]!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"recovery: {accounts:N0} accounts ready again after {seconds:F1} s (process start to /readyz; last account has {count} events)"));
        var replay = System.Text.RegularExpressions.Regex.Match(restarted.Output, "Replayed .*");
        return new JsonObject
        {
            ["accounts"] = accounts,
            ["events"] = accounts * 2,
            ["secondsToReady"] = Math.Round(seconds, 1),
            ["replayLog"] = replay.Value,
            ["workingSetBeforeKillMb"] = workingSet / (1 << 20),
        };
    }
}
