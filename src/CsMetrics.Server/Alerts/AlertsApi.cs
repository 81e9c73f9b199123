using CsMetrics.Contracts.Alerts;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CsMetrics.Server.Alerts;

public static class AlertsApi
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;

    public static IEndpointRouteBuilder MapAlertsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/v1").MapGet("/alerts", GetAlertsAsync).WithName("GetAlerts");
        return app;
    }

    /// <summary>Newest first, merged across the alert shards.</summary>
    internal static async Task<Results<Ok<AlertsResponse>, ProblemHttpResult>> GetAlertsAsync(IGrainFactory grains, int? limit, string? account)
    {
        var take = limit ?? DefaultLimit;
        if (take is < 1 or > MaxLimit)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad limit",
                detail: $"limit: expected 1 to {MaxLimit}, got {take}");
        }
        Task<Alert[]>[] shards = account is null
            ? [.. Enumerable.Range(0, AlertShards.Count).Select(s => AlertShards.Grain(grains, s).RecentAsync(take))]
            : [AlertShards.GrainFor(grains, account).RecentAsync(AlertShardLimit)];
        var all = (await Task.WhenAll(shards))
            .SelectMany(a => a)
            .Where(a => account is null || a.Account == account)
            .OrderByDescending(a => a.At)
            .ThenByDescending(a => a.Sequence)
            .Take(take)
            .ToArray();
        return TypedResults.Ok(new AlertsResponse(all));
    }

    private const int AlertShardLimit = 1000;
}

public sealed record AlertsResponse(IReadOnlyList<Alert> Alerts);
