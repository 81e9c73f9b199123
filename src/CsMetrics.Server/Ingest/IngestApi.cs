using CsMetrics.Server.Access;
using CsMetrics.Storage.AzureTable.Log;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using CsMetrics.Server.Hosting;

namespace CsMetrics.Server.Ingest;

public static class IngestApi
{
    public static IEndpointRouteBuilder MapIngestApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").RequireScope(Access.Scopes.Ingest).RequireIngestAdmission();
        v1.MapPost("/events", PostEventsAsync)
            .WithName("PostEvents")
            .WithSummary("Ingest a JSON array or NDJSON body of event envelopes.");
        return app;
    }

    internal static async Task<Results<Ok<IngestResponse>, ProblemHttpResult>> PostEventsAsync(
        HttpRequest request, EventIngestor ingestor, IOptions<IngestOptions> options, CancellationToken ct)
    {
        var limits = options.Value;
        if (!BatchReader.IsSupportedContentType(request.ContentType))
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported content type",
                $"Content-Type: expected application/json (an array of events) or application/x-ndjson (one event per line), got \"{request.ContentType}\"");
        }
        var (body, length, error) = await BatchReader.ReadBodyAsync(request, limits.MaxBodyBytes, ct);
        if (error == BatchError.TooLarge)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "Body too large",
                $"body: at most {limits.MaxBodyBytes} bytes per request; split the batch");
        }
        try
        {
            using var batch = BatchReader.Parse(body.AsMemory(0, length), out var parseError);
            if (parseError is not null)
            {
                return Problem(StatusCodes.Status400BadRequest, "Malformed body", parseError + "; nothing in this body was accepted");
            }
            if (batch.Events.Count > limits.MaxEvents)
            {
                return Problem(StatusCodes.Status413PayloadTooLarge, "Too many events",
                    $"body: at most {limits.MaxEvents} events per request, got {batch.Events.Count}; split the batch");
            }
            try
            {
                return TypedResults.Ok(await ingestor.IngestAsync(batch.Events, IngestOrigin.Native(request.HttpContext.Producer())));
            }
            catch (Exception e) when (e is LogUnavailableException or Azure.RequestFailedException or AggregateException { InnerException: Azure.RequestFailedException })
            {
                request.HttpContext.Response.Headers.RetryAfter = "5";
                return Problem(StatusCodes.Status503ServiceUnavailable, "Storage unavailable",
                    "storage: the event log or the quarantine cannot be written; retry the same body later (nothing is counted twice)");
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or Orleans.Storage.InconsistentStateException)
            {
                // The events are in the durable log (or nothing was acknowledged): a retry of the
                // same body is safe, events already applied are counted as duplicates.
                request.HttpContext.Response.Headers.RetryAfter = "1";
                return Problem(StatusCodes.Status503ServiceUnavailable, "Temporarily unavailable",
                    $"cluster: an account could not be updated ({e.GetType().Name}); retry the same body, nothing is counted twice");
            }
        }
        finally
        {
            BatchReader.Return(body!);
        }
    }

    private static ProblemHttpResult Problem(int status, string title, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: status, title: title);
}
