using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using CsMetrics.Testing;

namespace CsMetrics.Benchmarks;

public sealed class BenchOptions
{
    public string Accounts { get; set; } = "100000";
    /// <summary>Events generated for each measured run (and for the steady-state warm-up); a run stops at <see cref="RunSeconds"/> if they last longer.</summary>
    public int Events { get; set; } = 2_000_000;
    /// <summary>A measured run sends for at most this long; the figures cover what it sent.</summary>
    public int RunSeconds { get; set; } = 15;
    /// <summary>
    /// Before the first measured run of each pipeline, load it at least this long (events of their own),
    /// then on in 5-second windows until two windows in a row agree within 10 % (at most 45 s in all):
    /// on two cores the JIT takes several seconds under load to finish tiering the hot path, and the
    /// heap of a node that has just taken 100,000 accounts goes on growing for a while; a run that
    /// starts before then measures the ramp (the HTTP baseline went 102k, 147k, 214k, 282k events/s
    /// over its first four seconds, then held ~270k; a durable node answered 30-45k events a second
    /// for its first 15-20 s of load and 60-130k after, and two early windows can agree at 28k and 30k).
    /// </summary>
    public int WarmupSeconds { get; set; } = 20;
    /// <summary>
    /// DOTNET_GCgen0size of the nodes, as deploy/run.sh sets it (empty: the runtime's own budget).
    /// Keep the two in step.
    /// </summary>
    public string Gen0Size { get; set; } = "0x30000000";
    public int Batch { get; set; } = 500;
    public int Concurrency { get; set; } = 8;
    public string Distributions { get; set; } = "uniform,zipf";
    public int RecoveryAccounts { get; set; } = 100_000;

    /// <summary>Events per account in the log before the kill (2: every account touched twice; 40 at 100,000 accounts is about a minute of durable ingest).</summary>
    public int RecoveryEvents { get; set; } = 2;

    /// <summary>
    /// The activation-from-checkpoints phase stops sending after this many seconds (0: until every
    /// account is touched) and reports the rate so far: on Azurite it is the slowest phase by far,
    /// and the rate is steady long before the end.
    /// </summary>
    public int ActivationSeconds { get; set; } = 120;
    public string Out { get; set; } = "artifacts/bench.json";
    /// <summary>CsMetrics:Durability:TruncateInterval of the durable node (empty: the node's default).</summary>
    public string TruncateInterval { get; set; } = "";

    /// <summary>
    /// CsMetrics:Storage:AzureTable:TableShards of the durable nodes (16, the provider's default):
    /// account checkpoints spread over this many tables (Azurite writes into a table in proportion
    /// to its size; measured in docs/performance-history.md).
    /// </summary>
    public int TableShards { get; set; } = 16;

    /// <summary>
    /// CsMetrics:Ingest:MaxRequestsInFlight of the nodes (empty: the node's default; 0: no bound),
    /// to compare the overload phase with and without admission control.
    /// </summary>
    public string MaxRequestsInFlight { get; set; } = "";

    /// <summary>
    /// The overload phase sends with this many requests in flight (16 times the usual 8), more than
    /// the node admits by default, and reports the requests answered and those refused.
    /// </summary>
    public int OverloadConcurrency { get; set; } = 128;

    /// <summary>Which phases to run: state, scoring, baseline, off, durable, latency, overload, recovery (comma-separated).</summary>
    public string Phases { get; set; } = "state,scoring,baseline,off,durable,latency,overload,recovery";

    [JsonIgnore]
    public IEnumerable<int> AccountCounts => Accounts.Split(',').Select(a => int.Parse(a, CultureInfo.InvariantCulture));

    [JsonIgnore]
    public IEnumerable<string> DistributionNames => Distributions.Split(',');

    public bool Runs(string phase) => Phases.Split(',').Contains(phase);

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            switch (args[i])
            {
                case "--accounts": o.Accounts = value; break;
                case "--events": o.Events = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--gen0-size": o.Gen0Size = value; break;
                case "--run-seconds": o.RunSeconds = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--warmup-seconds": o.WarmupSeconds = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--batch": o.Batch = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--concurrency": o.Concurrency = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--distributions": o.Distributions = value; break;
                case "--recovery-accounts": o.RecoveryAccounts = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--recovery-events": o.RecoveryEvents = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--activation-seconds": o.ActivationSeconds = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--out": o.Out = value; break;
                case "--phases": o.Phases = value; break;
                case "--truncate-interval": o.TruncateInterval = value; break;
                case "--table-shards": o.TableShards = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--max-requests-in-flight": o.MaxRequestsInFlight = value; break;
                case "--overload-concurrency": o.OverloadConcurrency = int.Parse(value, CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown option {args[i]} (expected --accounts, --events, --run-seconds, --warmup-seconds, --gen0-size, --batch, --concurrency, --distributions, --recovery-accounts, --activation-seconds, --phases, --truncate-interval, --table-shards, --max-requests-in-flight, --overload-concurrency, --out)");
            }
        }
        if (args.Length % 2 != 0)
        {
            throw new ArgumentException($"option {args[^1]} has no value");
        }
        foreach (var d in o.DistributionNames)
        {
            if (d is not ("uniform" or "zipf"))
            {
                throw new ArgumentException($"--distributions: expected uniform and/or zipf, got {d}");
            }
        }
        return o;
    }
}

[JsonSerializable(typeof(BenchOptions))]
internal sealed partial class BenchJson : JsonSerializerContext;

internal static class Machine
{
    public static string Describe() =>
        $"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1 << 30)} GiB, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}";
}

internal static class Node
{
    /// <summary>The runtime settings the benchmark's nodes run with (the collector's gen0 budget, as in deploy/run.sh).</summary>
    public static Dictionary<string, string> Environment(BenchOptions options)
    {
        var environment = new Dictionary<string, string>();
        if (options.Gen0Size.Length > 0)
        {
            environment["DOTNET_GCgen0size"] = options.Gen0Size;
        }
        if (options.MaxRequestsInFlight.Length > 0)
        {
            environment["CsMetrics__Ingest__MaxRequestsInFlight"] = options.MaxRequestsInFlight;
        }
        return environment;
    }

    /// <summary>Storage off: the Memory provider, so no event log and no checkpoint write; the benchmark endpoints on.</summary>
    public static Dictionary<string, string> Memory() => new()
    {
        ["CsMetrics:Storage:Provider"] = "Memory",
        ["CsMetrics:Accounts:MaxUnsavedEvents"] = "1000000",
        ["CsMetrics:Bench:Enabled"] = "true",
    };

    public static Dictionary<string, string> Durable(string connection, string serviceId, BenchOptions? options = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["CsMetrics:Node:ServiceId"] = serviceId,
            ["CsMetrics:Storage:Provider"] = "AzureTable",
            ["CsMetrics:Storage:AzureTable:ConnectionString"] = connection,
            ["CsMetrics:Bench:Enabled"] = "true",
            ["CsMetrics:Storage:AzureTable:TableShards"] = (options?.TableShards ?? new BenchOptions().TableShards).ToString(CultureInfo.InvariantCulture),
        };
        if (options is { TruncateInterval.Length: > 0 })
        {
            settings["CsMetrics:Durability:TruncateInterval"] = options.TruncateInterval;
        }
        return settings;
    }
}

/// <summary>One line of the results table.</summary>
public sealed record Row(int Accounts, string Distribution, string Pipeline, double EventsPerSecond, double P50, double P99,
    double CpuMicrosPerEvent, double GeneratorCpuSeconds, double? VsHttpBaseline, double? VsEngineBaseline);

/// <summary>What the node's collector did during a run: bytes allocated per event answered, collections per generation, time paused.</summary>
public sealed record CollectorDelta(double AllocatedBytesPerEvent, int Gen0, int Gen1, int Gen2, double PauseMs);

/// <param name="PerSecond">Events answered in each whole second of the run, in order: shows a ramp or a stall the average hides.</param>
/// <param name="AzuriteCpuSeconds">CPU time Azurite used during the run (durable runs on an Azurite the benchmark started).</param>
/// <param name="AzuriteBlobCpuSeconds">The part of it its blob service used: the event log's appends (the table service holds the
/// checkpoints, the index and the alert inbox).</param>
/// <param name="AzuriteDatabaseBytes">Azurite's database file after the run.</param>
public sealed record RunResult(string Name, int Events, double Seconds, double P50, double P99, double NodeCpuMicrosPerEvent, double GeneratorCpuSeconds, int Failed, int[] PerSecond, CollectorDelta? Collector = null,
    double? AzuriteCpuSeconds = null, long? AzuriteDatabaseBytes = null, double? AzuriteBlobCpuSeconds = null)
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
        ["eventsPerWholeSecond"] = new JsonArray([.. PerSecond.Select(n => (JsonNode)n)]),
        ["nodeAllocatedBytesPerEvent"] = Collector is null ? null : Math.Round(Collector.AllocatedBytesPerEvent),
        ["collections"] = Collector is null ? null : new JsonObject { ["gen0"] = Collector.Gen0, ["gen1"] = Collector.Gen1, ["gen2"] = Collector.Gen2, ["pauseMs"] = Math.Round(Collector.PauseMs) },
        ["azuriteCpuSeconds"] = AzuriteCpuSeconds is { } cpu ? Math.Round(cpu, 2) : null,
        ["azuriteBlobCpuSeconds"] = AzuriteBlobCpuSeconds is { } blob ? Math.Round(blob, 2) : null,
        ["azuriteDatabaseBytes"] = AzuriteDatabaseBytes,
    };
}

/// <summary>Account popularity: uniform, or Zipf (s = 1: the k-th most popular account gets 1/k of the top one's events).</summary>
internal sealed class Popularity
{
    private readonly double[]? _cumulative;
    private readonly int _accounts;

    public Popularity(string distribution, int accounts)
    {
        _accounts = accounts;
        if (distribution == "zipf")
        {
            _cumulative = new double[accounts];
            double sum = 0;
            for (var k = 0; k < accounts; k++)
            {
                sum += 1.0 / (k + 1);
                _cumulative[k] = sum;
            }
            for (var k = 0; k < accounts; k++)
            {
                _cumulative[k] /= sum;
            }
        }
    }

    public int Next(Random rng)
    {
        if (_cumulative is null)
        {
            return rng.Next(_accounts);
        }
        var i = Array.BinarySearch(_cumulative, rng.NextDouble());
        return Math.Min(i < 0 ? ~i : i, _accounts - 1);
    }
}

internal static class Load
{
    /// <summary>The feature names of the mix (also <see cref="ParsedLoad"/>'s).</summary>
    internal static readonly string[] Features = ["reports", "dashboards", "alerts", "integrations", "exports", "automation", "api"];

    /// <summary>Pre-serialized bodies, so the measurement does not include building them.</summary>
    /// <param name="everyAccount">Give account i the i-th event (in order), so every account gets one: the warm-up activates them all.</param>
    public static List<byte[]> Bodies(string prefix, int events, int accounts, int batch, int seed, string distribution = "uniform", bool everyAccount = false)
    {
        var rng = new Random(seed);
        var popularity = new Popularity(distribution, accounts);
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
                var account = everyAccount ? i % accounts : popularity.Next(rng);
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

    /// <summary>
    /// Grain calls per body (one per distinct account in it, as the node makes them) and per body if the
    /// bodies in flight together were coalesced by account across requests: what that lever could save
    /// with this load. Drawn from the same popularity as the run's bodies.
    /// </summary>
    public static (double PerBody, double Coalesced) CallsPerBody(string distribution, int accounts, int batch, int inFlight, int groups = 100)
    {
        var rng = new Random(5);
        var popularity = new Popularity(distribution, accounts);
        var body = new HashSet<int>();
        var group = new HashSet<int>();
        long separate = 0, coalesced = 0;
        for (var g = 0; g < groups; g++)
        {
            group.Clear();
            for (var b = 0; b < inFlight; b++)
            {
                body.Clear();
                for (var i = 0; i < batch; i++)
                {
                    var account = popularity.Next(rng);
                    body.Add(account);
                    group.Add(account);
                }
                separate += body.Count;
            }
            coalesced += group.Count;
        }
        var bodies = (double)groups * inFlight;
        return (separate / bodies, coalesced / bodies);
    }

    /// <summary>The truncation rounds a durable node has reported so far ("Checkpointed N accounts ..."), oldest first.</summary>
    public static List<string> TruncationRounds(NodeProcess node) =>
        [.. System.Text.RegularExpressions.Regex.Matches(node.Output, "Checkpointed [0-9,]+ accounts[^\n]*").Select(m => m.Value)];

    public static HttpClient Client(NodeProcess node, int concurrency) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = node.Address, Timeout = TimeSpan.FromMinutes(5) };

    /// <summary>
    /// Loads the node, unmeasured, for at least <see cref="BenchOptions.WarmupSeconds"/> and then until two
    /// 5-second windows in a row agree within 10 %, for at most 45 s; prints each window's rate. Sends
    /// each body once: <paramref name="bodies"/> must hold more than 45 s of events.
    /// </summary>
    public static async Task WarmUpAsync(NodeProcess node, HttpClient http, string path, List<byte[]> bodies, BenchOptions options)
    {
        var window = TimeSpan.FromSeconds(5);
        var least = TimeSpan.FromSeconds(options.WarmupSeconds);
        var most = TimeSpan.FromSeconds(Math.Max(45, options.WarmupSeconds));
        var clock = Stopwatch.StartNew();
        var rates = new List<double>();
        var sent = 0;
        while (sent < bodies.Count && clock.Elapsed < most)
        {
            var started = Stopwatch.StartNew();
            var (latencies, _, _) = await PostAllAsync(http, path, bodies.GetRange(sent, bodies.Count - sent), options.Concurrency, limit: window);
            sent += latencies.Count;
            rates.Add(latencies.Count * options.Batch / started.Elapsed.TotalSeconds);
            if (clock.Elapsed >= least && rates.Count >= 2 && Math.Abs(rates[^1] - rates[^2]) <= 0.1 * rates[^2])
            {
                break;
            }
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  warm-up to steady state: {clock.Elapsed.TotalSeconds:F0} s of uniform load (not measured), 5-second windows: {string.Join(' ', rates.Select(r => $"{r / 1000:F0}k"))} events/s"));
    }

    private static async Task<(long Allocated, int Gen0, int Gen1, int Gen2, double PauseMs)> CollectorAsync(HttpClient http)
    {
        var gc = await http.GetFromJsonAsync<JsonObject>(new Uri("/v1/bench/gc", UriKind.Relative));
        return ((long)gc!["allocatedBytes"]!, (int)gc["gen0"]!, (int)gc["gen1"]!, (int)gc["gen2"]!, (double)gc["totalPauseMs"]!);
    }

    /// <summary>Posts the bodies with <paramref name="concurrency"/> requests in flight, as fast as the node answers.</summary>
    /// <param name="limit">Stop sending new bodies after this long; the figures cover the bodies sent.</param>
    /// <param name="storage">The Azurite behind a durable node, whose CPU time and database size the run reports.</param>
    public static async Task<RunResult> MeasureAsync(string name, NodeProcess node, HttpClient http, string path, List<byte[]> bodies, BenchOptions options, TimeSpan? limit = null, Azurite? storage = null)
    {
        limit ??= TimeSpan.FromSeconds(options.RunSeconds);
        var gcBefore = await CollectorAsync(http);
        var storageCpuBefore = storage?.ProcessorTime;
        var blobCpuBefore = storage?.BlobProcessorTime;
        var cpuBefore = node.TotalProcessorTime;
        var myCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var (latencies, failed, answered) = await PostAllAsync(http, path, bodies, options.Concurrency, limit: limit);
        var seconds = clock.Elapsed.TotalSeconds;
        var nodeCpu = (node.TotalProcessorTime - cpuBefore).TotalSeconds;
        var myCpu = (Process.GetCurrentProcess().TotalProcessorTime - myCpuBefore).TotalSeconds;
        var storageCpu = storage?.ProcessorTime is { } after && storageCpuBefore is { } before ? (after - before).TotalSeconds : (double?)null;
        var blobCpu = storage?.BlobProcessorTime is { } blobAfter && blobCpuBefore is { } blobBefore ? (blobAfter - blobBefore).TotalSeconds : (double?)null;
        var gcAfter = await CollectorAsync(http);
        latencies.Sort();
        var events = latencies.Count * options.Batch;
        var perSecond = new int[(int)seconds];
        foreach (var at in answered.Where(a => a < perSecond.Length))
        {
            perSecond[(int)at] += options.Batch;
        }
        var collector = new CollectorDelta(
            (gcAfter.Allocated - gcBefore.Allocated) / (double)Math.Max(1, events),
            gcAfter.Gen0 - gcBefore.Gen0, gcAfter.Gen1 - gcBefore.Gen1, gcAfter.Gen2 - gcBefore.Gen2, gcAfter.PauseMs - gcBefore.PauseMs);
        var result = new RunResult(name, events, seconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99), nodeCpu * 1e6 / events, myCpu, failed, perSecond, collector,
            storageCpu, storage?.DatabaseBytes, blobCpu);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  {name}: {result.EventsPerSecond:N0} events/s, p50 {result.P50:F1} ms, p99 {result.P99:F1} ms, {result.NodeCpuMicrosPerEvent:F1} µs node CPU/event, {failed} failed requests"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    node allocated {collector.AllocatedBytesPerEvent:N0} B/event; collector: {collector.Gen0} gen0, {collector.Gen1} gen1, {collector.Gen2} gen2 collections, paused {collector.PauseMs:N0} ms ({collector.PauseMs / 10 / seconds:F1} % of the run)"));
        Console.WriteLine($"    events answered in each whole second: {string.Join(' ', perSecond.Select(n => $"{n / 1000.0:F0}k"))}");
        if (result.AzuriteCpuSeconds is { } azuriteCpu)
        {
            var megabytes = (result.AzuriteDatabaseBytes ?? 0) / 1e6;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    Azurite on the same cores: {azuriteCpu:F1} s CPU ({azuriteCpu * 100 / seconds:F0} % of one core{(result.AzuriteBlobCpuSeconds is { } blob ? $"; its blob service, the event log, {blob:F1} s" : "")}); its database file {megabytes:N0} MB{(megabytes > 350 ? " (Azurite 3.37.0 exits once it nears 450-500 MB)" : "")}"));
        }
        return result;
    }

    /// <returns>Each request's latency (ms), how many failed, and when each was answered (seconds since the first was sent).</returns>
    public static async Task<(List<double> Latencies, int Failed, List<double> Answered)> PostAllAsync(HttpClient http, string path, List<byte[]> bodies, int concurrency, double? eventsPerSecond = null, int batch = 500, TimeSpan? limit = null)
    {
        var latencies = new List<double>(bodies.Count);
        var answered = new List<double>(bodies.Count);
        var failed = 0;
        var next = -1;
        var started = Stopwatch.GetTimestamp();
        var interval = eventsPerSecond is { } rate ? TimeSpan.FromSeconds(batch / rate) : TimeSpan.Zero;
        var workers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < bodies.Count && (limit is not { } l || Stopwatch.GetElapsedTime(started) < l))
            {
                if (interval > TimeSpan.Zero)
                {
                    // Paced: body i is due at start + i intervals (an open-loop load, not one that waits for answers).
                    var due = interval * i - Stopwatch.GetElapsedTime(started);
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due);
                    }
                }
                var sent = Stopwatch.GetTimestamp();
                using var content = new ByteArrayContent(bodies[i]);
                content.Headers.ContentType = new("application/json");
                using var response = await http.PostAsync(new Uri(path, UriKind.Relative), content);
                var ms = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.OK && Volatile.Read(ref failed) < 3)
                {
                    Console.WriteLine($"    request answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                }
                lock (latencies)
                {
                    latencies.Add(ms);
                    answered.Add(Stopwatch.GetElapsedTime(started).TotalSeconds);
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        failed++;
                    }
                }
            }
        });
        await Task.WhenAll(workers);
        return (latencies, failed, answered);
    }

    /// <summary>
    /// Alert changes (raises, updates, resolutions) so far on the node: the inbox numbers every
    /// change, so the highest sequence among the newest alerts is their count (within the moment
    /// it takes the outbox to hand the last ones over).
    /// </summary>
    public static async Task<long> AlertsRaisedAsync(HttpClient http)
    {
        await Task.Delay(500); // let the outboxes drain
        var body = await http.GetFromJsonAsync<JsonObject>(new Uri("/v1/alerts?limit=1000", UriKind.Relative));
        return body!["alerts"]!.AsArray().Select(a => (long)a!["sequence"]!).DefaultIfEmpty(0).Max();
    }

    public static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
}

/// <summary>Everything measured at one number of accounts.</summary>
internal static class Scale
{
    public static async Task<JsonObject> RunAsync(int accounts, Azurite azurite, BenchOptions options, List<Row> table)
    {
        Console.WriteLine($"== {accounts:N0} accounts: generating {options.Events:N0} events per run in {options.Batch}-event batches ...");
        // Every account gets an event (the first activates it); then the steady-state warm-up loads each
        // pipeline for --warmup-seconds so the JIT has finished tiering before anything is measured.
        var warmup = Load.Bodies("warm", Math.Max(accounts, 100_000), accounts, options.Batch, seed: 2, everyAccount: true);
        var runs = options.DistributionNames.ToDictionary(d => d, d => Load.Bodies($"run-{d}", options.Events, accounts, options.Batch, seed: 1, distribution: d));
        var steady = options.WarmupSeconds > 0 ? Load.Bodies("steady", Math.Max(options.Events, 4_000_000), accounts, options.Batch, seed: 3) : [];
        Task SteadyAsync(NodeProcess node, HttpClient http, string path) => steady.Count == 0 ? Task.CompletedTask : Load.WarmUpAsync(node, http, path, steady, options);
        var result = new JsonObject { ["accounts"] = accounts };
        foreach (var distribution in options.DistributionNames)
        {
            var (perBody, coalesced) = Load.CallsPerBody(distribution, accounts, options.Batch, options.Concurrency);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  grain calls per {options.Batch}-event body, {distribution}: {perBody:N1} (one per account in it); {coalesced:N1} if the {options.Concurrency} bodies in flight were coalesced by account ({1 - coalesced / perBody:P1} fewer)"));
            result[$"callsPerBody_{distribution}"] = new JsonObject { ["asSent"] = Math.Round(perBody, 1), ["coalescedInFlight"] = Math.Round(coalesced, 1) };
        }
        double? engine = null;
        var httpBaseline = new Dictionary<string, double>();
        // Each pipeline's run per distribution, for what an event cost the cores (CpuBudget).
        var baselineRuns = new Dictionary<string, RunResult>();
        var offRuns = new Dictionary<string, RunResult>();
        var durableRuns = new Dictionary<string, RunResult>();

        if (options.Runs("baseline") || options.Runs("off"))
        {
            Console.WriteLine("storage-off node (Memory provider): starting ...");
            await using var node = await NodeProcess.StartAsync(Node.Memory(), environment: Node.Environment(options));
            using var http = Load.Client(node, options.Concurrency);
            if (options.Runs("baseline"))
            {
                // Engine: the same batches as grain calls from inside the node; once to activate and compile,
                // then the median of three.
                var query = $"/v1/bench/grain-calls?accounts={accounts}&events={options.Events}&batch={options.Batch}&concurrency={options.Concurrency}";
                await http.PostAsync(new Uri(query, UriKind.Relative), null);
                var tries = new List<JsonObject>();
                for (var i = 0; i < 3; i++)
                {
                    tries.Add((await (await http.PostAsync(new Uri(query, UriKind.Relative), null)).Content.ReadFromJsonAsync<JsonObject>())!);
                }
                var calls = tries.OrderBy(t => (double)t["eventsPerSecond"]!).ElementAt(1);
                engine = (double)calls["eventsPerSecond"]!;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  engine baseline (grain calls in the node, {(int)calls["calls"]!:N0} calls): {engine:N0} events/s"));
                result["engineBaseline"] = calls;
                table.Add(new Row(accounts, "uniform", "engine baseline: counting grains, no HTTP", engine.Value, 0, 0, 0, 0, null, 1));

                await Load.PostAllAsync(http, "/v1/bench/noscore", warmup, options.Concurrency);
                await SteadyAsync(node, http, "/v1/bench/noscore");
                foreach (var (distribution, bodies) in runs)
                {
                    var r = await Load.MeasureAsync($"HTTP baseline, {distribution} (no scoring, no dedup, no storage)", node, http, "/v1/bench/noscore", bodies, options);
                    httpBaseline[distribution] = r.EventsPerSecond;
                    baselineRuns[distribution] = r;
                    result[$"httpBaseline_{distribution}"] = r.ToJson();
                    table.Add(new Row(accounts, distribution, "HTTP baseline: validation + counting grains", r.EventsPerSecond, r.P50, r.P99, r.NodeCpuMicrosPerEvent, r.GeneratorCpuSeconds, 1, r.EventsPerSecond / engine));
                }
            }
            if (options.Runs("off"))
            {
                var warm = await Load.MeasureAsync($"warm-up: {warmup.Count * options.Batch:N0} events, activating every account", node, http, "/v1/events", warmup, options, TimeSpan.MaxValue);
                result["offActivation"] = warm.ToJson();
                await SteadyAsync(node, http, "/v1/events");
                double uniformRate = 0;
                foreach (var (distribution, bodies) in runs)
                {
                    var alertsBefore = await Load.AlertsRaisedAsync(http);
                    var r = await Load.MeasureAsync($"CsMetrics, storage off, {distribution}", node, http, "/v1/events", bodies, options);
                    result[$"off_{distribution}"] = r.ToJson();
                    offRuns[distribution] = r;
                    result[$"off_{distribution}"]!["alertsRaised"] = await Load.AlertsRaisedAsync(http) - alertsBefore;
                    uniformRate = distribution == "uniform" ? r.EventsPerSecond : uniformRate;
                    table.Add(new Row(accounts, distribution, "CsMetrics, storage off", r.EventsPerSecond, r.P50, r.P99, r.NodeCpuMicrosPerEvent, r.GeneratorCpuSeconds,
                        httpBaseline.TryGetValue(distribution, out var b) ? r.EventsPerSecond / b : null, r.EventsPerSecond / engine));
                }
                if (options.Runs("latency") && uniformRate > 0)
                {
                    result["offEventToScoreVisible"] = await Latency.MeasureAsync(node, http, accounts, uniformRate / 2, options);
                }
                if (options.Runs("overload"))
                {
                    result["offOverload"] = await Overload.MeasureAsync(node, accounts, options);
                }
            }
        }

        if (options.Runs("durable"))
        {
            Console.WriteLine("durable node (Azure Storage on Azurite: state in tables, the event log in blobs by default): starting ...");
            await using var node = await NodeProcess.StartAsync(Node.Durable(azurite.ConnectionString, $"bench{Guid.NewGuid():N}"[..20], options), environment: Node.Environment(options));
            using var http = Load.Client(node, options.Concurrency);
            var idle = await http.GetFromJsonAsync<JsonObject>(new Uri("/v1/bench/memory", UriKind.Relative));
            var warm = await Load.MeasureAsync($"warm-up: {warmup.Count * options.Batch:N0} events, activating every account", node, http, "/v1/events", warmup, options, TimeSpan.MaxValue, azurite);
            result["durableActivation"] = warm.ToJson();
            var memory = await http.GetFromJsonAsync<JsonObject>(new Uri("/v1/bench/memory", UriKind.Relative));
            // Per live account: what the node holds beyond an idle node (a full collection before each reading).
            var heap = (long)memory!["managedHeapBytes"]! - (long)idle!["managedHeapBytes"]!;
            var workingSet = (long)memory["workingSetBytes"]! - (long)idle["workingSetBytes"]!;
            result["memory"] = new JsonObject
            {
                ["liveAccounts"] = accounts,
                ["idle"] = idle,
                ["loaded"] = memory,
                ["managedHeapBytesPerAccount"] = heap / accounts,
                ["workingSetBytesPerAccount"] = workingSet / accounts,
            };
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  memory per live account ({accounts:N0} accounts, beyond an idle node): managed heap {heap / accounts:N0} B, working set {workingSet / accounts:N0} B"));
            await SteadyAsync(node, http, "/v1/events");
            double uniformRate = 0;
            foreach (var (distribution, bodies) in runs)
            {
                var alertsBefore = await Load.AlertsRaisedAsync(http);
                var rounds = Load.TruncationRounds(node).Count;
                var r = await Load.MeasureAsync($"CsMetrics, durable, {distribution}", node, http, "/v1/events", bodies, options, storage: azurite);
                result[$"durable_{distribution}"] = r.ToJson();
                durableRuns[distribution] = r;
                result[$"durable_{distribution}"]!["alertsRaised"] = await Load.AlertsRaisedAsync(http) - alertsBefore;
                // A truncation round checkpoints every account fed since the last one: whether one
                // finishes inside the measured run moves the durable figure a lot, so say so.
                var truncations = Load.TruncationRounds(node).Skip(rounds).ToList();
                result[$"durable_{distribution}"]!["truncationRounds"] = new JsonArray([.. truncations.Select(t => (JsonNode)t)]);
                Console.WriteLine($"    ({result[$"durable_{distribution}"]!["alertsRaised"]} alert changes during the run; truncation rounds finished in it: {(truncations.Count == 0 ? "none" : string.Join("; ", truncations))})");
                uniformRate = distribution == "uniform" ? r.EventsPerSecond : uniformRate;
                table.Add(new Row(accounts, distribution, "CsMetrics, durable (Azure Storage on Azurite)", r.EventsPerSecond, r.P50, r.P99, r.NodeCpuMicrosPerEvent, r.GeneratorCpuSeconds,
                    httpBaseline.TryGetValue(distribution, out var b) ? r.EventsPerSecond / b : null, engine is { } e ? r.EventsPerSecond / e : null));
            }
            if (options.Runs("latency") && uniformRate > 0)
            {
                result["eventToScoreVisible"] = await Latency.MeasureAsync(node, http, accounts, uniformRate / 2, options);
            }
        }
        foreach (var distribution in options.DistributionNames)
        {
            result[$"cpuPerEvent_{distribution}"] = CpuBudget.Report(distribution,
                baselineRuns.GetValueOrDefault(distribution), offRuns.GetValueOrDefault(distribution), durableRuns.GetValueOrDefault(distribution));
        }
        return result;
    }
}

/// <summary>
/// Overload: many more requests in flight than the node admits (the load of several producers
/// retrying at once). With admission control the node answers what it admits at its usual rate
/// and latency and refuses the rest at once with 503 and <c>Retry-After</c>; without it every
/// request waits its turn and latency grows with the number in flight. A refused producer waits as
/// <c>Retry-After</c> says and then sends its next body (refused bodies are not sent again here,
/// so the figures separate the two kinds of answer).
/// </summary>
internal static class Overload
{
    public static async Task<JsonObject> MeasureAsync(NodeProcess node, int accounts, BenchOptions options)
    {
        // Events of their own: the measured runs' bodies would all be duplicates by now.
        var bodies = Load.Bodies("overload", options.Events, accounts, options.Batch, seed: 4);
        using var http = Load.Client(node, options.OverloadConcurrency);
        var accepted = new List<double>();
        var refused = new List<double>();
        var other = 0;
        var next = -1;
        var limit = TimeSpan.FromSeconds(options.RunSeconds);
        var cpuBefore = node.TotalProcessorTime;
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, options.OverloadConcurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < bodies.Count && Stopwatch.GetElapsedTime(started) < limit)
            {
                var sent = Stopwatch.GetTimestamp();
                using var content = new ByteArrayContent(bodies[i]);
                content.Headers.ContentType = new("application/json");
                using var response = await http.PostAsync(new Uri("/v1/events", UriKind.Relative), content);
                var ms = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
                lock (accepted)
                {
                    switch (response.StatusCode)
                    {
                        case HttpStatusCode.OK: accepted.Add(ms); break;
                        case HttpStatusCode.ServiceUnavailable when response.Headers.RetryAfter is not null: refused.Add(ms); break;
                        default: other++; break;
                    }
                }
                if (response.Headers.RetryAfter?.Delta is { } wait)
                {
                    // As a producer's SDK does (and csmetrics replay): wait as told before sending again.
                    await Task.Delay(wait);
                }
            }
        }));
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var nodeCpu = (node.TotalProcessorTime - cpuBefore).TotalSeconds;
        accepted.Sort();
        refused.Sort();
        var result = new JsonObject
        {
            ["requestsInFlight"] = options.OverloadConcurrency,
            ["maxRequestsInFlight"] = options.MaxRequestsInFlight.Length > 0 ? options.MaxRequestsInFlight : "node default",
            ["seconds"] = seconds,
            ["acceptedEventsPerSecond"] = accepted.Count * options.Batch / seconds,
            ["acceptedP50Ms"] = Load.Percentile(accepted, 0.50),
            ["acceptedP99Ms"] = Load.Percentile(accepted, 0.99),
            ["acceptedRequests"] = accepted.Count,
            ["refusedRequests"] = refused.Count,
            ["refusedP50Ms"] = Load.Percentile(refused, 0.50),
            ["refusedP99Ms"] = Load.Percentile(refused, 0.99),
            ["otherFailures"] = other,
            ["nodeCpuMicrosPerAcceptedEvent"] = nodeCpu * 1e6 / Math.Max(1, accepted.Count * options.Batch),
        };
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  overload, {options.OverloadConcurrency} requests in flight (node bound: {result["maxRequestsInFlight"]}): {(double)result["acceptedEventsPerSecond"]!:N0} events/s accepted, p50 {(double)result["acceptedP50Ms"]!:F1} ms, p99 {(double)result["acceptedP99Ms"]!:F1} ms; {refused.Count:N0} of {accepted.Count + refused.Count + other:N0} requests refused 503 (p50 {(double)result["refusedP50Ms"]!:F1} ms, p99 {(double)result["refusedP99Ms"]!:F1} ms), {other} other failures"));
        return result;
    }
}

/// <summary>
/// Event-to-score-visible latency while the node ingests at a given rate: a probe posts one event
/// for an account of its own and, without waiting for the answer, reads the account until the
/// event is counted; then it waits for the 2xx (when the log has it) and times that too. The 50
/// probe accounts get their first event before the window: a probe measures a live account, not an
/// activation (on a durable node each read of an account not yet applied activated it from storage
/// and deactivated it again, and during a checkpoint round such a read waited seconds for Azurite).
/// </summary>
internal static class Latency
{
    public static async Task<JsonObject> MeasureAsync(NodeProcess node, HttpClient http, int accounts, double rate, BenchOptions options)
    {
        var events = (int)Math.Min(options.Events, rate * 20);
        var bodies = Load.Bodies("paced", events, accounts, options.Batch, seed: 3);
        using var probeHttp = new HttpClient { BaseAddress = node.Address };
        var samples = new List<double>();
        var acknowledged = new List<double>();
        // Every read's own round trip, and how many reads each probe took: a visible time made of one
        // slow read is the read path's, one made of many fast reads is the ingest path's.
        var reads = new List<double>();
        var readsPerProbe = new List<double>();
        var refusals = new List<string>();
        using var stop = new CancellationTokenSource();
        const int ProbeAccounts = 50;
        await Task.WhenAll(Enumerable.Range(0, ProbeAccounts).Select(i => PostUntilAcceptedAsync(probeHttp,
            $"[{{\"id\":\"probe-first-{i}\",\"account\":\"probe-{i}\",\"type\":\"login\",\"timestamp\":\"{TimeProvider.System.GetUtcNow():yyyy-MM-ddTHH:mm:ssZ}\",\"user\":\"u-1\"}}]", refusals)));
        refusals.Clear();
        var gcBefore = await http.GetFromJsonAsync<JsonObject>(new Uri("/v1/bench/gc", UriKind.Relative));
        var roundsBefore = Load.TruncationRounds(node).Count;
        var window = Stopwatch.GetTimestamp();
        var load = Load.PostAllAsync(http, "/v1/events", bodies, options.Concurrency, rate, options.Batch);
        var probe = Task.Run(async () =>
        {
            var n = 0;
            while (!load.IsCompleted)
            {
                n++;
                var account = $"probe-{n % ProbeAccounts}";
                var body = $"[{{\"id\":\"probe-{n}\",\"account\":\"{account}\",\"type\":\"login\",\"timestamp\":\"{TimeProvider.System.GetUtcNow():yyyy-MM-ddTHH:mm:ssZ}\",\"user\":\"u-1\"}}]";
                var sent = Stopwatch.GetTimestamp();
                var posting = PostUntilAcceptedAsync(probeHttp, body, refusals);
                // Visible: the account's own read shows the event counted, whether or not the 2xx has arrived yet.
                var expected = (n - 1) / ProbeAccounts + 2; // its first event, then one per probe
                var tries = 0;
                while (true)
                {
                    var reading = Stopwatch.GetTimestamp();
                    using var read = await probeHttp.GetAsync(new Uri($"/v1/accounts/{account}", UriKind.Relative));
                    var count = (long)(await read.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<JsonObject>())!["eventCount"]!;
                    reads.Add(Stopwatch.GetElapsedTime(reading).TotalMilliseconds);
                    tries++;
                    if (count >= expected)
                    {
                        break;
                    }
                }
                samples.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                readsPerProbe.Add(tries);
                await posting;
                acknowledged.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                await Task.Delay(20);
            }
        });
        await load;
        await probe;
        var seconds = Stopwatch.GetElapsedTime(window).TotalSeconds;
        var gcAfter = await http.GetFromJsonAsync<JsonObject>(new Uri("/v1/bench/gc", UriKind.Relative));
        // A durable node's truncation round (every account fed since the last one checkpointed) in the window.
        var truncations = Load.TruncationRounds(node).Skip(roundsBefore).ToList();
        int Delta(string generation) => (int)gcAfter![generation]! - (int)gcBefore![generation]!;
        var pauseMs = (double)gcAfter!["totalPauseMs"]! - (double)gcBefore!["totalPauseMs"]!;
        samples.Sort();
        var p50 = Load.Percentile(samples, 0.5);
        var p99 = Load.Percentile(samples, 0.99);
        var over25 = samples.Count(s => s > 25);
        var max = samples.Count > 0 ? samples[^1] : double.NaN;
        acknowledged.Sort();
        var ack50 = Load.Percentile(acknowledged, 0.5);
        var ack99 = Load.Percentile(acknowledged, 0.99);
        reads.Sort();
        readsPerProbe.Sort();
        var read50 = Load.Percentile(reads, 0.5);
        var read99 = Load.Percentile(reads, 0.99);
        var tries50 = Load.Percentile(readsPerProbe, 0.5);
        var tries99 = Load.Percentile(readsPerProbe, 0.99);
        var after = gcAfter["generationBytesAfter"]!.AsArray().Select(g => (long)g! / (1 << 20)).ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  event to score visible while ingesting {rate:N0} events/s (half the measured maximum): p50 {p50:F1} ms, p99 {p99:F1} ms, max {max:F1} ms over {samples.Count} probes ({over25} over 25 ms); the probes' 2xx came after p50 {ack50:F1} ms, p99 {ack99:F1} ms{(refusals.Count == 0 ? "" : $" ({refusals.Count} answers were refused and retried: {string.Join("; ", refusals.Distinct())})")}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    each read of the account (GET /v1/accounts/{{id}}) took p50 {read50:F1} ms, p99 {read99:F1} ms; a probe took p50 {tries50:F0}, p99 {tries99:F0} reads; truncation rounds finished in the window: {(truncations.Count == 0 ? "none" : string.Join("; ", truncations))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    collector in those {seconds:F1} s ({gcAfter["latencyMode"]}): {Delta("gen0")} gen0, {Delta("gen1")} gen1, {Delta("gen2")} gen2 collections, paused {pauseMs:N0} ms in all ({pauseMs / 10 / seconds:F1} %), last full blocking pause {(double)gcAfter["lastFullBlockingPauseMs"]!:F0} ms; the last ephemeral one paused {(double)gcAfter["lastEphemeralPauseMs"]!:F0} ms and promoted {(long)gcAfter["lastEphemeralPromotedBytes"]! / (1 << 20)} MB (heap {(long)gcAfter["heapBytes"]! / (1 << 20)} MB; generations after it, MB: {string.Join(" / ", after)})"));
        return new JsonObject
        {
            ["loadEventsPerSecond"] = Math.Round(rate),
            ["probes"] = samples.Count,
            ["p50Ms"] = Math.Round(p50, 2),
            ["p99Ms"] = Math.Round(p99, 2),
            ["maxMs"] = samples.Count > 0 ? Math.Round(max, 2) : null,
            ["probesOver25Ms"] = over25,
            ["acknowledgedP50Ms"] = Math.Round(ack50, 2),
            ["acknowledgedP99Ms"] = Math.Round(ack99, 2),
            ["readP50Ms"] = Math.Round(read50, 2),
            ["readP99Ms"] = Math.Round(read99, 2),
            ["readsPerProbeP50"] = tries50,
            ["readsPerProbeP99"] = tries99,
            ["truncationRounds"] = new JsonArray([.. truncations.Select(t => (JsonNode)t)]),
            ["probeRefusals"] = new JsonArray([.. refusals.Select(r => (JsonNode)r)]),
            ["gc"] = new JsonObject
            {
                ["seconds"] = Math.Round(seconds, 1),
                ["latencyMode"] = (string?)gcAfter["latencyMode"],
                ["gen0"] = Delta("gen0"),
                ["gen1"] = Delta("gen1"),
                ["gen2"] = Delta("gen2"),
                ["pauseMs"] = Math.Round(pauseMs),
                ["lastFullBlockingPauseMs"] = Math.Round((double)gcAfter["lastFullBlockingPauseMs"]!),
            },
        };
    }
    /// <summary>Posts a probe's body as a client would: a 503 or 429 is retried after its Retry-After, and recorded.</summary>
    private static async Task PostUntilAcceptedAsync(HttpClient http, string body, List<string> refusals)
    {
        while (true)
        {
            using var response = await http.PostAsync(new Uri("/v1/events", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
            if (response.StatusCode is not (HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests))
            {
                response.EnsureSuccessStatusCode();
                return;
            }
            var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
            lock (refusals)
            {
                refusals.Add($"{(int)response.StatusCode} {problem?["detail"]}");
            }
            await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1));
        }
    }
}

internal static class Recovery
{
    /// <summary>
    /// Gives every one of N accounts events that exist only in the log (no checkpoint, no
    /// truncation), kills the node with SIGKILL, restarts it and times until it is ready again:
    /// the log replayed into every account.
    /// </summary>
    public static async Task<JsonObject> MeasureAsync(BenchOptions options)
    {
        // An Azurite of its own: one that already holds the earlier phases' data answers slower.
        await using var azurite = new Azurite();
        await azurite.InitializeAsync();
        var connection = azurite.ConnectionString;
        var accounts = options.RecoveryAccounts;
        var serviceId = $"recover{Guid.NewGuid():N}"[..20];
        var settings = Node.Durable(connection, serviceId, options);
        settings["CsMetrics:Accounts:MaxUnsavedEvents"] = "1000000";
        settings["CsMetrics:Durability:TruncateInterval"] = "01:00:00";

        // --recovery-events per account (two by default), the accounts in turn: every account is touched.
        var events = (long)accounts * Math.Max(1, options.RecoveryEvents);
        var bodies = new List<byte[]>();
        var now = TimeProvider.System.GetUtcNow().ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        for (long start = 0; start < events; start += options.Batch)
        {
            sb.Clear().Append('[');
            for (var i = start; i < Math.Min(events, start + options.Batch); i++)
            {
                sb.Append(i > start ? "," : "").Append(CultureInfo.InvariantCulture,
                    $"{{\"id\":\"r-{i}\",\"account\":\"acct-{i % accounts}\",\"type\":\"login\",\"timestamp\":\"{now}\",\"user\":\"u-1\"}}");
            }
            bodies.Add(Encoding.UTF8.GetBytes(sb.Append(']').ToString()));
        }

        Console.WriteLine($"recovery: loading {accounts:N0} accounts ({events:N0} events) ...");
        var node = await NodeProcess.StartAsync(settings, environment: Node.Environment(options));
        using (var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency }) { BaseAddress = node.Address, Timeout = TimeSpan.FromMinutes(5) })
        {
            var (_, failed, _) = await Load.PostAllAsync(http, "/v1/events", bodies, options.Concurrency);
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
        await using var restarted = await NodeProcess.StartAsync(settings, waitReady: false, environment: Node.Environment(options));
        await restarted.WaitAsync("/readyz", TimeSpan.FromMinutes(15));
        var seconds = clock.Elapsed.TotalSeconds;
        var probe = await restarted.Http.GetStringAsync(new Uri($"/v1/accounts/acct-{accounts - 1}", UriKind.Relative));
        var count = (int)JsonNode.Parse(probe)!["eventCount"]!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"recovery: {accounts:N0} accounts ready again after {seconds:F1} s (process start to /readyz; last account has {count} events)"));
        var replay = System.Text.RegularExpressions.Regex.Match(await restarted.OutputContainingAsync("Replayed", TimeSpan.FromSeconds(30)), "Replayed .*");

        // The replay ends with every account checkpointed and the log deleted. Kill again, restart
        // (nothing to replay), and give every account one event: each activation reads its checkpoint.
        var truncated = Stopwatch.StartNew();
        while (!restarted.Output.Contains("Checkpointed", StringComparison.Ordinal) && truncated.Elapsed < TimeSpan.FromMinutes(5))
        {
            await Task.Delay(200);
        }
        restarted.Kill();
        await using var cold = await NodeProcess.StartAsync(settings, waitReady: false, environment: Node.Environment(options));
        await cold.WaitAsync("/readyz", TimeSpan.FromMinutes(15));
        using var coldHttp = Load.Client(cold, options.Concurrency);
        var touch = Load.Bodies("touch", accounts, accounts, options.Batch, seed: 4, everyAccount: true);
        TimeSpan? limit = options.ActivationSeconds > 0 ? TimeSpan.FromSeconds(options.ActivationSeconds) : null;
        var activation = await Load.MeasureAsync(
            $"activation from checkpoints (one event each to {accounts:N0} checkpointed accounts{(limit is null ? "" : $", sending for at most {options.ActivationSeconds} s")})",
            cold, coldHttp, "/v1/events", touch, options, limit ?? TimeSpan.MaxValue, azurite);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    {activation.Events:N0} accounts activated in {activation.Seconds:F1} s"));
        return new JsonObject
        {
            ["accounts"] = accounts,
            ["events"] = events,
            ["secondsToReady"] = Math.Round(seconds, 1),
            ["replayLog"] = replay.Value,
            ["truncationLog"] = System.Text.RegularExpressions.Regex.Match(restarted.Output, "Checkpointed .*").Value,
            ["workingSetBeforeKillMb"] = workingSet / (1 << 20),
            ["activationFromStorage"] = activation.ToJson(),
            ["activationFromStorageSeconds"] = Math.Round(activation.Seconds, 1),
            ["activatedAccounts"] = activation.Events,
        };
    }
}
