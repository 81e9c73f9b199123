using CsMetrics.Server.Access;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Scoring.Catalog;
using CsMetrics.Scoring.Model;
using Microsoft.AspNetCore.Http.HttpResults;

namespace CsMetrics.Server.Query;

public static class QueryApi
{
    public static IEndpointRouteBuilder MapQueryApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").RequireScope(Access.Scopes.Read);
        v1.MapGet("/accounts/{id}", GetAccountAsync).WithName("GetAccount");
        v1.MapGet("/accounts/{id}/history", async (string id, IGrainFactory grains) =>
            await grains.GetGrain<IAccountGrain>(id).HistoryAsync() is { } history
                ? Results.Ok(history)
                : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Account not found", detail: $"account \"{id}\" has no events")).WithName("GetAccountHistory");
        v1.MapGet("/model", (ScoringModel model) => Results.Text(model.ToJson(), "application/json")).WithName("GetModel");
        return app;
    }

    internal static async Task<Results<Ok<AccountView>, NotFound<ProblemDetailsBody>, ProblemHttpResult>> GetAccountAsync(string id, IGrainFactory grains)
    {
        if (id.Length > EventValidator.MaxIdLength || id.Any(char.IsControl))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad account id",
                detail: $"id: expected an account id of at most {EventValidator.MaxIdLength} characters with no control characters");
        }
        var view = await grains.GetGrain<IAccountGrain>(id).GetAsync();
        return view is null
            ? TypedResults.NotFound(new ProblemDetailsBody("Account not found", 404, $"account \"{id}\" has no events"))
            : TypedResults.Ok(view);
    }
}

/// <summary>An RFC 7807 body for typed 404s.</summary>
public sealed record ProblemDetailsBody(string Title, int Status, string Detail);
