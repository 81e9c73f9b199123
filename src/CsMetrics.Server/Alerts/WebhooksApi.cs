using CsMetrics.Server.Access;
using System.Text.Json;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Scoring.Alerting;

namespace CsMetrics.Server.Alerts;

/// <summary>
/// Webhook endpoints and their delivery log. Each delivery is a POST of the alert JSON with
/// <c>X-CsMetrics-Signature: sha256=&lt;hex HMAC-SHA256 of the raw body with the secret&gt;</c>.
/// Secrets are write-only: listings never show them.
/// </summary>
public static class WebhooksApi
{
    public const int MinSecretLength = 16;

    public static IEndpointRouteBuilder MapWebhooksApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1/webhooks").RequireScope(Access.Scopes.Admin);
        v1.MapPost("", AddAsync).WithName("AddWebhook");
        v1.MapGet("", async (IGrainFactory grains) =>
            TypedResults.Ok(new WebhooksResponse([.. (await Registry(grains).ListAsync()).Select(View)])));
        v1.MapDelete("/{id}", async (string id, IGrainFactory grains) =>
            await Registry(grains).RemoveAsync(id) ? Results.NoContent() : NotFound(id));
        v1.MapGet("/{id}/deliveries", DeliveriesAsync);
        v1.MapPost("/{id}/deliveries/{deliveryId}/replay", ReplayAsync);
        v1.MapPost("/{id}/replay", async (string id, IGrainFactory grains) =>
            await ExistsAsync(grains, id)
                ? Results.Ok(new ReplayedResponse(await grains.GetGrain<IWebhookGrain>(id).ReplayParkedAsync()))
                : NotFound(id));
        return app;
    }

    private static IWebhookRegistryGrain Registry(IGrainFactory grains) => grains.GetGrain<IWebhookRegistryGrain>(0);

    private static async Task<IResult> AddAsync(HttpRequest request, IGrainFactory grains)
    {
        var (body, error) = await AlertsApi.ReadObjectAsync(request);
        if (error is not null)
        {
            return AlertsApi.Bad("Bad body", error);
        }
        var b = body!.Value;
        var errors = new List<string>();
        string? url = null, secret = null;
        if (!b.TryGetProperty("url", out var u) || u.ValueKind != JsonValueKind.String
            || !Uri.TryCreate(u.GetString(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            errors.Add($"url: expected an absolute http or https URL, got {AlertsApi.Show(b, "url")}");
        }
        else
        {
            url = uri.ToString();
        }
        if (!b.TryGetProperty("secret", out var s) || s.ValueKind != JsonValueKind.String || s.GetString() is not { Length: >= MinSecretLength and <= 256 })
        {
            errors.Add($"secret: expected a string of {MinSecretLength} to 256 characters to sign deliveries with");
        }
        else
        {
            secret = s.GetString();
        }
        var severities = new List<string>();
        if (b.TryGetProperty("severities", out var sev) && sev.ValueKind != JsonValueKind.Null)
        {
            if (sev.ValueKind != JsonValueKind.Array)
            {
                errors.Add($"severities: expected an array of {string.Join(", ", AlertKinds.Severities)}, got {sev.GetRawText()}");
            }
            else
            {
                var i = 0;
                foreach (var item in sev.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String && AlertKinds.Severities.Contains(item.GetString()!))
                    {
                        severities.Add(item.GetString()!);
                    }
                    else
                    {
                        errors.Add($"severities[{i}]: expected one of {string.Join(", ", AlertKinds.Severities)}, got {item.GetRawText()}");
                    }
                    i++;
                }
            }
        }
        if (errors.Count > 0)
        {
            return AlertsApi.Bad("Bad webhook", string.Join("; ", errors));
        }
        var endpoint = await Registry(grains).AddAsync(url!, secret!, [.. severities.Distinct()]);
        return TypedResults.Created($"/v1/webhooks/{endpoint.Id}", View(endpoint));
    }

    private static async Task<IResult> DeliveriesAsync(string id, int? limit, IGrainFactory grains)
    {
        var take = limit ?? 100;
        if (take is < 1 or > 1000)
        {
            return AlertsApi.Bad("Bad limit", $"limit: expected 1 to 1000, got {take}");
        }
        if (!await ExistsAsync(grains, id))
        {
            return NotFound(id);
        }
        return TypedResults.Ok(new DeliveriesResponse(await grains.GetGrain<IWebhookGrain>(id).DeliveriesAsync(take)));
    }

    private static async Task<IResult> ReplayAsync(string id, string deliveryId, IGrainFactory grains)
    {
        if (!await ExistsAsync(grains, id))
        {
            return NotFound(id);
        }
        var delivery = await grains.GetGrain<IWebhookGrain>(id).ReplayAsync(deliveryId);
        return delivery is null
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Delivery not found", detail: $"deliveryId: webhook {id} has no delivery \"{deliveryId}\"")
            : TypedResults.Ok(delivery);
    }

    private static async Task<bool> ExistsAsync(IGrainFactory grains, string id) =>
        (await Registry(grains).ListAsync()).Any(e => e.Id == id);

    private static IResult NotFound(string id) =>
        TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Webhook not found", detail: $"id: no webhook \"{id}\"");

    private static WebhookView View(WebhookEndpoint e) => new(e.Id, e.Url, e.Severities, e.CreatedAt);
}

public sealed record WebhookView(string Id, string Url, string[] Severities, DateTimeOffset CreatedAt);

public sealed record WebhooksResponse(IReadOnlyList<WebhookView> Webhooks);

public sealed record DeliveriesResponse(IReadOnlyList<WebhookDelivery> Deliveries);

public sealed record ReplayedResponse(int Replayed);
