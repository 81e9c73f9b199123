using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using CsMetrics.Server.Hosting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace CsMetrics.Server.Ingest;

/// <summary>
/// Admission control for ingest: one bound on the requests a node works on at once, shared by
/// <c>POST /v1/events</c> and the Segment routes, with a short queue behind it. A request past both
/// is answered 503 with <c>Retry-After</c> before its body is read, so nothing in it was accepted
/// and a retry of the same body is safe. Bodies in memory stay bounded by the limit times
/// <see cref="IngestOptions.MaxBodyBytes"/>, and the work queued behind the admitted requests by the
/// bound rather than by the number of producers (how much that shortens their latency depends on
/// the machine: on two cores shared with the load generator, little; see the README). Built on
/// ASP.NET Core's rate-limiting middleware.
/// </summary>
public static class IngestAdmission
{
    public const string Policy = "ingest";

    public static IServiceCollection AddIngestAdmission(this IServiceCollection services)
    {
        services.AddSingleton<IngestRefusals>();
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
            o.AddPolicy(Policy, context =>
            {
                var limits = context.RequestServices.GetRequiredService<IOptions<IngestOptions>>().Value;
                return limits.MaxRequestsInFlight == 0
                    ? RateLimitPartition.GetNoLimiter(Policy)
                    : RateLimitPartition.GetConcurrencyLimiter(Policy, _ => new ConcurrencyLimiterOptions
                    {
                        PermitLimit = limits.MaxRequestsInFlight,
                        QueueLimit = limits.MaxQueuedRequests,
                        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                    });
            });
            o.OnRejected = (rejected, _) =>
            {
                var http = rejected.HttpContext;
                var limits = http.RequestServices.GetRequiredService<IOptions<IngestOptions>>().Value;
                http.RequestServices.GetRequiredService<IngestRefusals>().Record(limits);
                http.Response.Headers.RetryAfter = "1";
                return new ValueTask(Results.Problem(
                    statusCode: StatusCodes.Status503ServiceUnavailable,
                    title: "Too many ingest requests",
                    detail: $"ingest: this node is working on {limits.MaxRequestsInFlight} requests with {limits.MaxQueuedRequests} waiting, " +
                        $"the most it admits ({IngestOptions.Section}:MaxRequestsInFlight, {IngestOptions.Section}:MaxQueuedRequests); " +
                        "nothing in this body was accepted, retry the same body after 1 s").ExecuteAsync(http));
            };
        });
        return services;
    }

    /// <summary>Puts an ingest route under the node's admission bound.</summary>
    public static TBuilder RequireIngestAdmission<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireRateLimiting(Policy);
}

/// <summary>
/// Counts ingest requests refused by admission control: the <c>csmetrics.ingest.refused</c>
/// counter (meter <c>CsMetrics.Ingest</c>, for dotnet-counters or OpenTelemetry) and a warning at
/// most every 10 s saying how many, so an overloaded node is visible in its log without a line per request.
/// </summary>
public sealed partial class IngestRefusals
{
    private static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(10);
    private readonly Counter<long> _refused;
    private readonly TimeProvider _time;
    private readonly ILogger<IngestRefusals> _logger;
    private readonly Lock _gate = new();
    private long _sinceLog;
    private long _total;
    private long _lastLog = long.MinValue;

    public IngestRefusals(IMeterFactory meters, TimeProvider time, ILogger<IngestRefusals> logger)
    {
        _refused = meters.Create("CsMetrics.Ingest").CreateCounter<long>("csmetrics.ingest.refused", "{request}",
            "Ingest requests answered 503 because the node was at its admission bound");
        _time = time;
        _logger = logger;
    }

    /// <summary>Requests refused since the node started.</summary>
    public long Total => Interlocked.Read(ref _total);

    public void Record(IngestOptions limits)
    {
        _refused.Add(1);
        Interlocked.Increment(ref _total);
        long count;
        lock (_gate)
        {
            _sinceLog++;
            var now = _time.GetTimestamp();
            if (_lastLog != long.MinValue && _time.GetElapsedTime(_lastLog, now) < LogEvery)
            {
                return;
            }
            count = _sinceLog;
            _sinceLog = 0;
            _lastLog = now;
        }
        LogRefused(_logger, count, limits.MaxRequestsInFlight, limits.MaxQueuedRequests);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingest at its admission bound: {Count} request(s) answered 503 since the last such line (CsMetrics:Ingest:MaxRequestsInFlight {InFlight}, MaxQueuedRequests {Queued}); the node is overloaded or storage is slow")]
    private static partial void LogRefused(ILogger logger, long count, int inFlight, int queued);
}
