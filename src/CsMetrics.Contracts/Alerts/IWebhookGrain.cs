using Orleans.Concurrency;

namespace CsMetrics.Contracts.Alerts;

/// <summary>The configured webhook endpoints (one grain, key 0).</summary>
[Alias("csm.IWebhookRegistryGrain")]
public interface IWebhookRegistryGrain : IGrainWithIntegerKey
{
    [Alias("AddAsync")]
    Task<WebhookEndpoint> AddAsync(string url, string secret, string[] severities);

    [Alias("ListAsync"), ReadOnly, AlwaysInterleave]
    Task<WebhookEndpoint[]> ListAsync();

    /// <summary>False if there was no such endpoint.</summary>
    [Alias("RemoveAsync")]
    Task<bool> RemoveAsync(string id);

    /// <summary>Makes sure every endpoint's delivery worker is running (after a restart, say).</summary>
    [Alias("WakeAllAsync")]
    Task WakeAllAsync();
}

/// <summary>
/// One endpoint's delivery worker (key: the endpoint id): follows the inbox's changes from its own
/// cursor, queues the alerts its endpoint wants, posts each signed, retries with exponential
/// backoff, logs every attempt, parks a delivery after the configured number of failures, and
/// keeps all of it in storage so a restart loses no pending delivery.
/// </summary>
[Alias("csm.IWebhookGrain")]
public interface IWebhookGrain : IGrainWithStringKey
{
    /// <summary>Starts delivering for an endpoint (changes after <see cref="WebhookEndpoint.StartAfter"/>).</summary>
    [Alias("StartAsync")]
    Task StartAsync(WebhookEndpoint endpoint);

    [Alias("StopAsync")]
    Task StopAsync();

    [Alias("WakeAsync"), AlwaysInterleave]
    Task WakeAsync();

    [Alias("DeliveriesAsync"), ReadOnly, AlwaysInterleave]
    Task<WebhookDelivery[]> DeliveriesAsync(int limit);

    /// <summary>Queues a parked (or delivered) delivery again; null if no delivery has that id.</summary>
    [Alias("ReplayAsync")]
    Task<WebhookDelivery?> ReplayAsync(string deliveryId);

    /// <summary>Queues every parked delivery again; returns how many.</summary>
    [Alias("ReplayParkedAsync")]
    Task<int> ReplayParkedAsync();
}

[GenerateSerializer, Immutable, Alias("csm.WebhookEndpoint")]
public sealed record WebhookEndpoint(
    [property: Id(0)] string Id,
    [property: Id(1)] string Url,
    [property: Id(2)] string Secret,
    [property: Id(3)] string[] Severities,
    [property: Id(4)] DateTimeOffset CreatedAt,
    [property: Id(5)] long StartAfter);

public static class WebhookStates
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    public const string Parked = "parked";
}

/// <summary>One alert on its way to one endpoint, with every attempt.</summary>
[GenerateSerializer, Immutable, Alias("csm.WebhookDelivery")]
public sealed record WebhookDelivery(
    [property: Id(0)] string Id,
    [property: Id(1)] string AlertId,
    [property: Id(2)] long Sequence,
    [property: Id(3)] string State,
    [property: Id(4)] WebhookAttempt[] Attempts,
    [property: Id(5)] DateTimeOffset? NextAttemptAt,
    [property: Id(6)] Alert Alert,
    [property: Id(7)] int AttemptsBeforeReplay = 0);

[GenerateSerializer, Immutable, Alias("csm.WebhookAttempt")]
public sealed record WebhookAttempt(
    [property: Id(0)] DateTimeOffset At,
    [property: Id(1)] int? Status,
    [property: Id(2)] string? Error,
    [property: Id(3)] double Milliseconds);
