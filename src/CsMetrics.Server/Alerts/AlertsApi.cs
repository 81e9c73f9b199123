using Microsoft.Extensions.DependencyInjection;
using CsMetrics.Server.Access;
using System.Globalization;
using System.Text;
using System.Text.Json;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Scoring.Alerting;
using CsMetrics.Server.Json;

namespace CsMetrics.Server.Alerts;

/// <summary>
/// The inbox over HTTP: list and filter, acknowledge / assign / snooze / resolve, and the live
/// stream (server-sent events; each event's id is the alert change's sequence number, and
/// <c>Last-Event-ID</c> resumes from the persisted changes).
/// </summary>
public static class AlertsApi
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1000;
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    public static IEndpointRouteBuilder MapAlertsApi(this IEndpointRouteBuilder app)
    {
        // Reading the inbox and acting on alerts is what CS teams do: the read scope covers both.
        var v1 = app.MapGroup("/v1").RequireScope(Access.Scopes.Read);
        v1.MapGet("/alerts", GetAlertsAsync).WithName("GetAlerts");
        v1.MapGet("/alerts/stream", StreamAsync).WithName("StreamAlerts");
        v1.MapPost("/alerts/{id}/ack", (string id, IGrainFactory grains) => TransitionAsync(grains, id, new AlertCommand(AlertCommand.Acknowledge, null, null, null)));
        v1.MapPost("/alerts/{id}/assign", AssignAsync);
        v1.MapPost("/alerts/{id}/snooze", SnoozeAsync);
        v1.MapPost("/alerts/{id}/resolve", ResolveAsync);
        return app;
    }

    internal static async Task<IResult> GetAlertsAsync(IGrainFactory grains, string? severity, string? type, string? state, string? account, string? owner, int? limit)
    {
        var take = limit ?? DefaultLimit;
        if (take is < 1 or > MaxLimit)
        {
            return Bad("Bad limit", $"limit: expected 1 to {MaxLimit}, got {take}");
        }
        if ((Unknown("severity", severity, AlertKinds.Severities) ?? Unknown("type", type, AlertKinds.All) ?? Unknown("state", state, AlertStates.All)) is { } error)
        {
            return Bad("Bad filter", error);
        }
        var alerts = await grains.GetGrain<IAlertInboxGrain>(0).QueryAsync(new AlertQuery(severity, type, state, Empty(account), Empty(owner), take));
        return TypedResults.Ok(new AlertsResponse(alerts));
    }

    private static async Task<IResult> AssignAsync(string id, HttpRequest request, IGrainFactory grains)
    {
        var (body, error) = await ReadObjectAsync(request);
        if (error is not null)
        {
            return Bad("Bad body", error);
        }
        if (!body!.Value.TryGetProperty("owner", out var owner) || owner.ValueKind != JsonValueKind.String
            || owner.GetString() is not { Length: > 0 and <= 200 } name || name.Trim().Length == 0)
        {
            return Bad("Bad body", $"owner: expected who owns the alert (1 to 200 characters), got {Show(body.Value, "owner")}");
        }
        return await TransitionAsync(grains, id, new AlertCommand(AlertCommand.Assign, name, null, null));
    }

    private static async Task<IResult> SnoozeAsync(string id, HttpRequest request, IGrainFactory grains)
    {
        var (body, error) = await ReadObjectAsync(request);
        if (error is not null)
        {
            return Bad("Bad body", error);
        }
        if (!body!.Value.TryGetProperty("until", out var until) || until.ValueKind != JsonValueKind.String
            || !DateTimeOffset.TryParse(until.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at))
        {
            return Bad("Bad body", $"until: expected an ISO 8601 time to snooze until, got {Show(body.Value, "until")}");
        }
        return await TransitionAsync(grains, id, new AlertCommand(AlertCommand.Snooze, null, at.ToUniversalTime(), null));
    }

    private static async Task<IResult> ResolveAsync(string id, HttpRequest request, IGrainFactory grains)
    {
        string? note = null;
        if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            var (body, error) = await ReadObjectAsync(request);
            if (error is not null)
            {
                return Bad("Bad body", error);
            }
            if (body!.Value.TryGetProperty("note", out var n) && n.ValueKind != JsonValueKind.Null)
            {
                if (n.ValueKind != JsonValueKind.String || n.GetString()!.Length > 1000)
                {
                    return Bad("Bad body", $"note: expected a string of at most 1000 characters, got {Show(body.Value, "note")}");
                }
                note = n.GetString();
            }
        }
        return await TransitionAsync(grains, id, new AlertCommand(AlertCommand.Resolve, null, null, note));
    }

    private static async Task<IResult> TransitionAsync(IGrainFactory grains, string id, AlertCommand command)
    {
        var result = await grains.GetGrain<IAlertInboxGrain>(0).TransitionAsync(id, command);
        if (result.Alert is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Alert not found", detail: $"id: no alert \"{id}\"");
        }
        if (result.Error is { } error)
        {
            var conflict = error.StartsWith("state:", StringComparison.Ordinal);
            return TypedResults.Problem(statusCode: conflict ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest,
                title: conflict ? "Not allowed in this state" : "Bad request", detail: error);
        }
        return TypedResults.Ok(result.Alert);
    }

    /// <summary>
    /// GET /v1/alerts/stream: changes after <c>Last-Event-ID</c> (header, or <c>lastEventId</c> in the
    /// query for clients that cannot set headers), or only new ones; then live, with a comment every
    /// 15 s to keep proxies from closing an idle stream.
    /// </summary>
    internal static async Task StreamAsync(HttpContext context, IGrainFactory grains, AlertFeed feed, IHostApplicationLifetime lifetime, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time)
    {
        var request = context.Request;
        var response = context.Response;
        // Ends when the client goes away, or when the node starts to stop: the server waits for open
        // requests before the event log's last checkpoints run, and a stream would never finish.
        // A client reconnects (to another node, or this one restarted) and resumes with Last-Event-ID.
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var cancel = ending.Token;
        var inbox = grains.GetGrain<IAlertInboxGrain>(0);
        var resume = request.Headers["Last-Event-ID"].FirstOrDefault() ?? request.Query["lastEventId"].FirstOrDefault();
        long after;
        if (string.IsNullOrEmpty(resume))
        {
            after = await inbox.LastSequenceAsync();
        }
        else if (!long.TryParse(resume, NumberStyles.None, CultureInfo.InvariantCulture, out after))
        {
            await Bad("Bad Last-Event-ID", $"Last-Event-ID: expected the sequence number of the last event received (a non-negative integer), got \"{resume}\"").ExecuteAsync(context);
            return;
        }

        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        using var subscription = feed.Subscribe();
        await response.WriteAsync("retry: 2000\n\n", cancel);
        await response.Body.FlushAsync(cancel);
        var text = new StringBuilder();
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                var changes = await inbox.ReadAfterAsync(after, 500);
                if (changes.Length == 0)
                {
                    var changed = feed.WaitForChangeAsync(after, cancel);
                    if (await Task.WhenAny(changed, Task.Delay(KeepAlive, time, cancel)) != changed)
                    {
                        await response.WriteAsync(": keep-alive\n\n", cancel);
                        await response.Body.FlushAsync(cancel);
                    }
                    continue;
                }
                text.Clear();
                foreach (var change in changes)
                {
                    text.Append("id: ").Append(change.Sequence.ToString(CultureInfo.InvariantCulture)).Append('\n')
                        .Append("data: ").Append(JsonSerializer.Serialize(change, ApiJsonContext.Default.Alert)).Append("\n\n");
                    after = change.Sequence;
                }
                await response.WriteAsync(text.ToString(), cancel);
                await response.Body.FlushAsync(cancel);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // The client went away, or the node is stopping.
        }
    }

    private static string? Unknown(string name, string? value, IReadOnlyList<string> allowed) =>
        value is null || allowed.Contains(value) ? null : $"{name}: expected one of {string.Join(", ", allowed)}, got \"{value}\"";

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    internal static IResult Bad(string title, string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: title, detail: detail);

    /// <summary>Reads a small JSON object body, or says what is wrong with it.</summary>
    internal static async Task<(JsonElement? Body, string? Error)> ReadObjectAsync(HttpRequest request)
    {
        if (request.ContentLength is > 64 * 1024)
        {
            return (null, "body: expected a JSON object of at most 64 KB");
        }
        try
        {
            using var doc = await JsonDocument.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                ? (doc.RootElement.Clone(), null)
                : (null, $"body: expected a JSON object, got {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}");
        }
        catch (JsonException e)
        {
            return (null, $"body: not valid JSON ({e.Message})");
        }
    }

    internal static string Show(JsonElement body, string property) =>
        body.TryGetProperty(property, out var value) ? value.GetRawText() : "nothing";
}

public sealed record AlertsResponse(IReadOnlyList<Alert> Alerts);
