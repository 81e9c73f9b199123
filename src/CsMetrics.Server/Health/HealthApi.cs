using Microsoft.AspNetCore.Http.HttpResults;
using Orleans.Runtime;

namespace CsMetrics.Server.Health;

public static class HealthApi
{
    public static IEndpointRouteBuilder MapHealthApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => TypedResults.Ok(new HealthResponse("ok", null))).WithName("Healthz");
        app.MapGet("/readyz", Ready).WithName("Readyz");
        return app;
    }

    /// <summary>Ready when this silo is an active member of its cluster.</summary>
    internal static Results<Ok<HealthResponse>, JsonHttpResult<HealthResponse>> Ready(IClusterMembershipService membership, ILocalSiloDetails silo)
    {
        var status = membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
        return status == SiloStatus.Active
            ? TypedResults.Ok(new HealthResponse("ready", null))
            : TypedResults.Json(new HealthResponse("not ready", $"cluster: this silo is {status}, not Active"), statusCode: StatusCodes.Status503ServiceUnavailable);
    }
}

public sealed record HealthResponse(string Status, string? Detail);
