using System.IO.Compression;
using System.Text.Json;
using CsMetrics.Server.Access;
using CsMetrics.Server.Ingest;

namespace CsMetrics.Server.Segment;

/// <summary>
/// The Segment HTTP Tracking API, so the Segment and RudderStack SDKs can point at CsMetrics:
/// <c>POST /v1/track</c>, <c>/v1/identify</c>, <c>/v1/group</c>, <c>/v1/page</c>, <c>/v1/screen</c>,
/// <c>/v1/alias</c> (one message) and <c>/v1/batch</c> (<c>{"batch": [...], "sentAt": ...}</c>); the
/// write key as HTTP Basic user; gzip bodies; Segment's limits (32 KB a message, 500 KB a batch,
/// after decompression). The answer is Segment's <c>{"success": true}</c>, with counts added; a
/// message that cannot be used is quarantined with its reason, as Segment's API never fails a
/// batch for one bad message. A body that cannot be read at all is a 400 the SDKs do not retry.
/// </summary>
public static class SegmentApi
{
    public static IEndpointRouteBuilder MapSegmentApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").RequireScope(Scopes.Ingest).RequireIngestAdmission();
        foreach (var type in new[] { "track", "identify", "group", "page", "screen", "alias" })
        {
            v1.MapPost($"/{type}", (HttpContext context, SegmentIngest ingest) => HandleAsync(context, ingest, type));
        }
        v1.MapPost("/batch", (HttpContext context, SegmentIngest ingest) => HandleAsync(context, ingest, null));
        return app;
    }

    private static async Task<IResult> HandleAsync(HttpContext context, SegmentIngest ingest, string? routeType)
    {
        var limit = routeType is null ? SegmentIngest.MaxBatchBytes : SegmentIngest.MaxMessageBytes;
        var (body, error) = await ReadAsync(context.Request, limit);
        if (error is not null)
        {
            // Over the limit is a 413 stating it (the SDKs retry neither 400 nor 413).
            return Fail(error, error.StartsWith("body: at most", StringComparison.Ordinal) ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest);
        }
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return Fail("body: not valid UTF-8");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body!, new JsonDocumentOptions { MaxDepth = 64, AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            return Fail($"body: not valid JSON ({e.Message})");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return Fail($"body: expected a JSON object, got {root.ValueKind.ToString().ToLowerInvariant()}");
            }
            List<JsonElement> messages;
            DateTimeOffset? sentAt = null;
            if (routeType is null)
            {
                if (!root.TryGetProperty("batch", out var batch) || batch.ValueKind != JsonValueKind.Array)
                {
                    return Fail("batch: expected an array of Segment messages");
                }
                messages = [.. batch.EnumerateArray()];
                if (root.TryGetProperty("sentAt", out var s) && s.ValueKind == JsonValueKind.String
                    && DateTimeOffset.TryParse(s.GetString(), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var d))
                {
                    sentAt = d.ToUniversalTime();
                }
            }
            else
            {
                messages = [root];
            }
            try
            {
                // A quarantined message must say what it was, to be replayed without its route.
                var raws = messages.Select(m => routeType is null || m.TryGetProperty("type", out _) ? m.GetRawText() : WithType(m.GetRawText(), routeType)).ToList();
                var result = await ingest.IngestAsync(messages, raws, routeType, sentAt, context.Producer());
                return TypedResults.Ok(new SegmentResponse(true, null,
                    result.Count(SegmentOutcome.Accepted), result.Count(SegmentOutcome.Held), result.Count(SegmentOutcome.Ignored),
                    result.Count(SegmentOutcome.Rejected), result.Duplicates));
            }
            catch (Exception e) when (e is Storage.AzureTable.Log.LogUnavailableException or Azure.RequestFailedException or OrleansException or TimeoutException)
            {
                context.Response.Headers.RetryAfter = "5";
                return TypedResults.Json(new SegmentResponse(false, "storage or cluster unavailable; retry the same body (nothing is counted twice)", 0, 0, 0, 0, 0),
                    Json.ApiJsonContext.Default.SegmentResponse, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        }
    }

    /// <summary>The body, gunzipped when it says so, refused past <paramref name="limit"/> bytes (compressed or not: a gzip bomb stops there).</summary>
    private static async Task<(byte[]? Body, string? Error)> ReadAsync(HttpRequest request, int limit)
    {
        var gzip = request.Headers.ContentEncoding.Any(e => string.Equals(e, "gzip", StringComparison.OrdinalIgnoreCase));
        if (request.Headers.ContentEncoding.Count > 0 && !gzip)
        {
            return (null, $"Content-Encoding: expected gzip or none, got \"{request.Headers.ContentEncoding}\"");
        }
        using var buffer = new MemoryStream();
        try
        {
            await using var source = gzip ? new GZipStream(request.Body, CompressionMode.Decompress) : request.Body;
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await source.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
            {
                if (buffer.Length + read > limit)
                {
                    return (null, $"body: at most {limit} bytes {(limit == SegmentIngest.MaxBatchBytes ? "per batch" : "per message")} (Segment's limit){(gzip ? " once decompressed" : "")}");
                }
                buffer.Write(chunk, 0, read);
            }
        }
        catch (InvalidDataException)
        {
            return (null, "Content-Encoding: the body is not valid gzip");
        }
        return (buffer.ToArray(), null);
    }

    private static string WithType(string raw, string type)
    {
        var inner = raw.Trim()[1..^1].Trim();
        return inner.Length == 0 ? $$"""{"type":"{{type}}"}""" : $$"""{"type":"{{type}}",{{inner}}}""";
    }

    private static IResult Fail(string message, int status = StatusCodes.Status400BadRequest) =>
        TypedResults.Json(new SegmentResponse(false, message, 0, 0, 0, 0, 0), Json.ApiJsonContext.Default.SegmentResponse, statusCode: status);
}

/// <summary>Segment's answer (<c>success</c>), plus what became of the messages.</summary>
public sealed record SegmentResponse(bool Success, string? Message, int Accepted, int Held, int Ignored, int Rejected, int Duplicates);
