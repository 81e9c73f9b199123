using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Http.HttpResults;
using CsMetrics.Server.Durability;
using Orleans.Runtime;

namespace CsMetrics.Server.Health;

public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", ([FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time) => TypedResults.Ok(new HealthResponse("ok", null) { Now = time.GetUtcNow() })).WithName("Healthz");
        app.MapGet("/readyz", Ready).WithName("Readyz");
        return app;
    }

    /// <summary>
    /// Ready when this silo is an active member of its cluster, it has read the schema registry,
    /// storage answers a real round trip, and the event logs left from before have been replayed.
    /// </summary>
    internal static async Task<Results<Ok<HealthResponse>, JsonHttpResult<HealthResponse>>> Ready(
        IClusterMembershipService membership, ILocalSiloDetails silo, DurableLog log, Catalog.CatalogHolder catalog, CancellationToken cancellationToken)
    {
        var status = membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
        if (status != SiloStatus.Active)
        {
            return NotReady($"cluster: this silo is {status}, not Active");
        }
        if (await log.CheckAsync(cancellationToken) is { } problem)
        {
            return NotReady(problem);
        }
        return catalog.Loaded
            ? TypedResults.Ok(new HealthResponse("ready", null))
            : NotReady("catalog: the schema registry has not been read yet (events of published types would be refused as unknown)");
    }

    private static JsonHttpResult<HealthResponse> NotReady(string detail) =>
        TypedResults.Json(new HealthResponse("not ready", detail), statusCode: StatusCodes.Status503ServiceUnavailable);
}

public sealed record HealthResponse(string Status, string? Detail)
{
    /// <summary>The node's clock (on <c>/healthz</c>): what a simulator times its events by, when the node runs time faster.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? Now { get; init; }
}
