using CsMetrics.Contracts.Accounts;
using CsMetrics.Server.Access;
using CsMetrics.Server.Alerts;

namespace CsMetrics.Server.Catalog;

/// <summary>
/// The schema registry over HTTP: <c>GET /v1/catalog</c> (every type, every version),
/// <c>GET /v1/catalog/types/{type}</c>, and <c>POST /v1/catalog/types</c> (admin) to publish a
/// type or a version. A change that would break producers of an existing version is a 409 saying
/// which property and which version to publish instead.
/// </summary>
public static class CatalogApi
{
    public static IEndpointRouteBuilder MapCatalogApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1/catalog");
        v1.MapGet("", (CatalogHolder holder) => Results.Text(holder.Catalog.ToJson(), "application/json")).RequireScope(Scopes.Read).WithName("GetCatalog");
        v1.MapGet("/types/{type}", (string type, CatalogHolder holder) =>
        {
            var versions = holder.Catalog.Types.Where(t => t.Type == type).OrderBy(t => t.Version).Select(t => t.ToJson()).ToList();
            return versions.Count == 0
                ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Type not found", detail: $"type: the catalog has no type \"{type}\"")
                : Results.Text("[" + string.Join(",", versions) + "]", "application/json");
        }).RequireScope(Scopes.Read);
        v1.MapPost("/types", PublishAsync).RequireScope(Scopes.Admin).WithName("PublishEventType");
        return app;
    }

    private static async Task<IResult> PublishAsync(HttpRequest request, IGrainFactory grains, CatalogHolder holder)
    {
        if (request.ContentLength is > 256 * 1024)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large", detail: "body: at most 262144 bytes per event type");
        }
        using var reader = new StreamReader(request.Body);
        var json = await reader.ReadToEndAsync(request.HttpContext.RequestAborted);
        var result = await grains.GetGrain<ICatalogRegistryGrain>(0).PublishAsync(json);
        if (result.Error is { } error)
        {
            var breaking = error.Contains("breaks producers", StringComparison.Ordinal) || error.StartsWith("version:", StringComparison.Ordinal);
            return breaking
                ? TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Incompatible change", detail: error)
                : AlertsApi.Bad("Bad event type", error);
        }
        holder.Apply(result.Snapshot);
        var published = Scoring.Catalog.EventTypeSchema.Parse(result.Snapshot.Schemas[^1]);
        return TypedResults.Created($"/v1/catalog/types/{published.Type}", new PublishedType(published.Type, published.Version, result.Snapshot.Revision));
    }
}

public sealed record PublishedType(string Type, int Version, long Revision);
