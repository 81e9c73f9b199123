using Microsoft.Extensions.DependencyInjection;
using CsMetrics.Server.Access;
using System.Diagnostics;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Bench;
using CsMetrics.Scoring.Catalog;
using CsMetrics.Scoring.Events;
using CsMetrics.Server.Hosting;
using CsMetrics.Server.Ingest;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace CsMetrics.Server.Bench;

/// <summary>
/// What the benchmark compares CsMetrics with, measured on the same node in the same run
/// (mapped only with <c>CsMetrics:Bench:Enabled</c>):
/// <list type="bullet">
/// <item><c>POST /v1/bench/noscore</c>: the whole HTTP path of <c>POST /v1/events</c> (read, parse,
/// validate, group, one grain call per account) into grains that only count: ingest with the score
/// computation, de-duplication and storage replaced by nothing.</item>
/// <item><c>POST /v1/bench/grain-calls</c>: the engine alone, from inside the node: the same shape of
/// batches (one call per account per batch) into counting grains, no HTTP and no JSON.</item>
/// <item><c>GET /v1/bench/memory</c>: managed heap after a full collection, and the working set.</item>
/// <item><c>GET /v1/bench/gc</c>: the collector's counters so far (collections per generation, total
/// pause time, the longest pause of the last blocking full collection, the mode, bytes allocated), so
/// the benchmark can tell how much of a latency tail the collector explains and what a run allocated.</item>
/// </list>
/// </summary>
public static class BenchApi
{
    public static IEndpointRouteBuilder MapBenchApi(this IEndpointRouteBuilder app)
    {
        if (!app.ServiceProvider.GetRequiredService<IOptions<BenchOptions>>().Value.Enabled)
        {
            return app;
        }
        var bench = app.MapGroup("/v1/bench").RequireScope(Access.Scopes.Admin);
        bench.MapPost("/noscore", NoScoreAsync).RequireIngestAdmission();
        bench.MapPost("/grain-calls", GrainCallsAsync);
        bench.MapGet("/memory", Memory);
        bench.MapGet("/gc", Collector);
        return app;
    }

    internal static async Task<Results<Ok<NoScoreResponse>, ProblemHttpResult>> NoScoreAsync(
        HttpRequest request, EventValidator validator, GrainReferences<IBaselineGrain> grains, IOptions<IngestOptions> options, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time, CancellationToken ct)
    {
        var (body, length, error) = await BatchReader.ReadBodyAsync(request, options.Value.MaxBodyBytes, ct);
        if (error != BatchError.None)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, detail: "body: too large");
        }
        try
        {
            using var batch = BatchReader.Parse(body.AsMemory(0, length), out var parseError);
            if (parseError is not null)
            {
                return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, detail: parseError);
            }
            var now = time.GetUtcNow();
            var byAccount = new Dictionary<string, List<HealthEvent>>(batch.Events.Count, StringComparer.Ordinal);
            var rejected = 0;
            foreach (var element in batch.Events)
            {
                if (!validator.TryValidate(element, now, out var e, out _))
                {
                    rejected++;
                    continue;
                }
                if (!byAccount.TryGetValue(e!.Account, out var list))
                {
                    byAccount[e.Account] = list = [];
                }
                list.Add(e);
            }
            var calls = new Task<int>[byAccount.Count];
            var i = 0;
            foreach (var (account, events) in byAccount)
            {
                calls[i++] = grains.Get(account).CountAsync(new EventBatch([.. events]));
            }
            await Task.WhenAll(calls);
            return TypedResults.Ok(new NoScoreResponse(batch.Events.Count - rejected, rejected));
        }
        finally
        {
            BatchReader.Return(body!);
        }
    }

    /// <summary>Runs <paramref name="events"/> events over <paramref name="accounts"/> accounts through counting grains, in <paramref name="batch"/>-event batches.</summary>
    internal static async Task<Results<Ok<GrainCallsResponse>, ProblemHttpResult>> GrainCallsAsync(
        GrainReferences<IBaselineGrain> grains, EventCatalog catalog, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time, int accounts = 100_000, int events = 300_000, int batch = 500, int concurrency = 8, string prefix = "calls")
    {
        if (accounts < 1 || events < 1 || batch < 1 || concurrency < 1)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, detail: "accounts, events, batch, concurrency: expected positive integers");
        }
        // Batches built before the clock starts, like the bodies of the HTTP benchmark.
        var rng = new Random(7);
        var family = catalog.Find(EventTypes.Login)!.FamilyValue;
        var now = time.GetUtcNow();
        var batches = new List<(string Account, HealthEvent[] Events)[]>();
        for (var start = 0; start < events; start += batch)
        {
            var byAccount = new Dictionary<string, List<HealthEvent>>(StringComparer.Ordinal);
            for (var n = start; n < Math.Min(events, start + batch); n++)
            {
                var account = $"{prefix}-{rng.Next(accounts)}";
                if (!byAccount.TryGetValue(account, out var list))
                {
                    byAccount[account] = list = [];
                }
                list.Add(new HealthEvent($"{prefix}-e{n}", account, EventTypes.Login, family, now, "u-1", Actor.User, HealthEvent.NoProperties));
            }
            batches.Add([.. byAccount.Select(p => (p.Key, p.Value.ToArray()))]);
        }
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int b;
            while ((b = Interlocked.Increment(ref next)) < batches.Count)
            {
                var work = batches[b];
                var calls = new Task<int>[work.Length];
                for (var i = 0; i < work.Length; i++)
                {
                    calls[i] = grains.Get(work[i].Account).CountAsync(new EventBatch(work[i].Events));
                }
                await Task.WhenAll(calls);
            }
        }));
        var seconds = clock.Elapsed.TotalSeconds;
        var callCount = batches.Sum(b => b.Length);
        return TypedResults.Ok(new GrainCallsResponse(events, callCount, seconds, events / seconds));
    }

    internal static Ok<MemoryResponse> Memory()
    {
        var heap = GC.GetTotalMemory(forceFullCollection: true);
        using var process = Process.GetCurrentProcess();
        return TypedResults.Ok(new MemoryResponse(heap, process.WorkingSet64));
    }

    internal static Ok<GcResponse> Collector()
    {
        var full = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        var longest = TimeSpan.Zero;
        foreach (var pause in full.PauseDurations)
        {
            longest = pause > longest ? pause : longest;
        }
        var ephemeral = GC.GetGCMemoryInfo(GCKind.Ephemeral);
        var generations = new long[ephemeral.GenerationInfo.Length];
        for (var g = 0; g < generations.Length; g++)
        {
            generations[g] = ephemeral.GenerationInfo[g].SizeAfterBytes;
        }
        return TypedResults.Ok(new GcResponse(GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2),
            GC.GetTotalPauseDuration().TotalMilliseconds, longest.TotalMilliseconds,
            System.Runtime.GCSettings.IsServerGC, System.Runtime.GCSettings.LatencyMode.ToString(),
            ephemeral.PauseDurations.Length > 0 ? ephemeral.PauseDurations[0].TotalMilliseconds : 0, ephemeral.PromotedBytes, ephemeral.HeapSizeBytes, generations,
            GC.GetTotalAllocatedBytes(precise: false)));
    }
}

public sealed record NoScoreResponse(int Accepted, int Rejected);

public sealed record GrainCallsResponse(int Events, int Calls, double Seconds, double EventsPerSecond);

public sealed record MemoryResponse(long ManagedHeapBytes, long WorkingSetBytes);

public sealed record GcResponse(int Gen0, int Gen1, int Gen2, double TotalPauseMs, double LastFullBlockingPauseMs, bool Server, string LatencyMode,
    double LastEphemeralPauseMs, long LastEphemeralPromotedBytes, long HeapBytes, long[] GenerationBytesAfter, long AllocatedBytes);
