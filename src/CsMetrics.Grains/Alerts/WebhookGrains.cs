using Microsoft.Extensions.DependencyInjection;
using System.Globalization;
using System.Text.Json;
using CsMetrics.Contracts.Alerts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CsMetrics.Grains.Alerts;

/// <summary>The list of webhook endpoints (see <see cref="IWebhookRegistryGrain"/>).</summary>
public sealed class WebhookRegistryGrain(
    [PersistentState("webhooks", StorageNames.Default)] IPersistentState<WebhookRegistryState> state,
    [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time) : Grain, IWebhookRegistryGrain
{
    public async Task<WebhookEndpoint> AddAsync(string url, string secret, string[] severities)
    {
        // Only alerts raised from now on: a new endpoint is not flooded with history.
        var start = await GrainFactory.GetGrain<IAlertInboxGrain>(0).LastSequenceAsync();
        var endpoint = new WebhookEndpoint($"wh-{Guid.NewGuid():N}"[..15], url, secret, severities, time.GetUtcNow(), start);
        await GrainFactory.GetGrain<IWebhookGrain>(endpoint.Id).StartAsync(endpoint);
        state.State.Endpoints.Add(endpoint);
        await state.WriteStateAsync();
        return endpoint;
    }

    public Task<WebhookEndpoint[]> ListAsync() => Task.FromResult(state.State.Endpoints.ToArray());

    public async Task<bool> RemoveAsync(string id)
    {
        if (!state.State.Endpoints.Any(e => e.Id == id))
        {
            return false;
        }
        // The worker first: if it cannot be stopped now, the endpoint stays listed and can be removed again.
        await GrainFactory.GetGrain<IWebhookGrain>(id).StopAsync();
        state.State.Endpoints.RemoveAll(e => e.Id == id);
        await state.WriteStateAsync();
        return true;
    }

    public Task WakeAllAsync() => Task.WhenAll(state.State.Endpoints.Select(e => GrainFactory.GetGrain<IWebhookGrain>(e.Id).WakeAsync()));
}

[GenerateSerializer, Alias("csm.WebhookRegistryState")]
public sealed class WebhookRegistryState
{
    [Id(0)] public List<WebhookEndpoint> Endpoints { get; set; } = [];
}

/// <summary>
/// One endpoint's delivery worker (see <see cref="IWebhookGrain"/>). A timer pulls new changes
/// from the inbox after the stored cursor (only newly raised alerts of the endpoint's severities
/// become deliveries), then attempts whatever is due, saving after every step: a delivery queued
/// is never lost, and every attempt is on record. Delivery is at least once: a crash between a 2xx
/// and its save repeats the POST once, with the same <c>X-CsMetrics-Delivery</c> id.
/// Ingestion never waits for any of this: accounts only enqueue notices for the inbox.
/// </summary>
public sealed partial class WebhookGrain(
    [PersistentState("webhook", StorageNames.Default)] IPersistentState<WebhookState> state,
    WebhookSender sender,
    [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time,
    IOptions<WebhookOptions> options,
    ILogger<WebhookGrain> logger) : Grain, IWebhookGrain
{
    private const int MaxPending = 300;
    private const int MaxFinishedKept = 200;
    private const int MaxAttemptsPerTick = 20;
    private IGrainTimer? _timer;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.Endpoint is not null)
        {
            StartTimer();
        }
        return Task.CompletedTask;
    }

    public async Task StartAsync(WebhookEndpoint endpoint)
    {
        state.State.Endpoint = endpoint;
        state.State.Cursor = endpoint.StartAfter;
        await state.WriteStateAsync();
        StartTimer();
    }

    public async Task StopAsync()
    {
        _timer?.Dispose();
        _timer = null;
        await state.ClearStateAsync();
        DeactivateOnIdle();
    }

    public Task WakeAsync() => Task.CompletedTask; // activation starts the timer

    public Task<WebhookDelivery[]> DeliveriesAsync(int limit) =>
        Task.FromResult(state.State.Deliveries.AsEnumerable().Reverse().Take(limit).ToArray());

    public async Task<int> ReplayParkedAsync()
    {
        var now = time.GetUtcNow();
        var deliveries = state.State.Deliveries;
        var count = 0;
        for (var i = 0; i < deliveries.Count; i++)
        {
            if (deliveries[i].State == WebhookStates.Parked)
            {
                deliveries[i] = deliveries[i] with { State = WebhookStates.Pending, NextAttemptAt = now, AttemptsBeforeReplay = deliveries[i].Attempts.Length };
                count++;
            }
        }
        if (count > 0)
        {
            await state.WriteStateAsync();
        }
        return count;
    }

    public async Task<WebhookDelivery?> ReplayAsync(string deliveryId)
    {
        var i = state.State.Deliveries.FindIndex(d => d.Id == deliveryId);
        if (i < 0)
        {
            return null;
        }
        var d = state.State.Deliveries[i];
        // A fresh run of attempts: the earlier failures stay on record but no longer count toward parking.
        var replay = d with { State = WebhookStates.Pending, NextAttemptAt = time.GetUtcNow(), AttemptsBeforeReplay = d.Attempts.Length };
        state.State.Deliveries[i] = replay;
        await state.WriteStateAsync();
        return replay;
    }

    private void StartTimer() => _timer ??= this.RegisterGrainTimer(PumpAsync,
        new GrainTimerCreationOptions(TimeSpan.Zero, options.Value.PollInterval) { Interleave = false, KeepAlive = true });

    private async Task PumpAsync(CancellationToken cancellationToken)
    {
        if (state.State.Endpoint is not { } endpoint)
        {
            return;
        }
        try
        {
            await PullAsync(endpoint);
            await AttemptDueAsync(endpoint, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            LogPumpFailed(logger, endpoint.Id, e);
        }
    }

    private async Task PullAsync(WebhookEndpoint endpoint)
    {
        var deliveries = state.State.Deliveries;
        if (deliveries.Count(d => d.State != WebhookStates.Delivered) >= MaxPending)
        {
            // Back-pressure: an endpoint that is down (pending) or given up on (parked) stops its
            // cursor; nothing is skipped, the inbox keeps the changes until it catches up or is replayed.
            return;
        }
        var changes = await GrainFactory.GetGrain<IAlertInboxGrain>(0).ReadAfterAsync(state.State.Cursor, 200);
        if (changes.Length == 0)
        {
            return;
        }
        var now = time.GetUtcNow();
        foreach (var change in changes)
        {
            if (change.Change == Alert.Changes.Raised && (endpoint.Severities.Length == 0 || endpoint.Severities.Contains(change.Severity)))
            {
                var id = string.Create(CultureInfo.InvariantCulture, $"{endpoint.Id}-{change.Sequence}");
                deliveries.Add(new WebhookDelivery(id, change.Id, change.Sequence, WebhookStates.Pending, [], now, change));
            }
            state.State.Cursor = change.Sequence;
        }
        Trim();
        await state.WriteStateAsync();
    }

    private async Task AttemptDueAsync(WebhookEndpoint endpoint, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var deliveries = state.State.Deliveries;
        var attempted = 0;
        // A bounded turn, so the worker's other calls (stop, replay) never wait long behind a slow endpoint.
        for (var i = 0; i < deliveries.Count && attempted < MaxAttemptsPerTick && !cancellationToken.IsCancellationRequested; i++)
        {
            var d = deliveries[i];
            var now = time.GetUtcNow();
            if (d.State != WebhookStates.Pending || d.NextAttemptAt > now)
            {
                continue;
            }
            attempted++;
            var body = JsonSerializer.SerializeToUtf8Bytes(d.Alert, AlertJsonContext.Default.Alert);
            var attempt = d.Attempts.Length + 1;
            var (status, error, ms) = await sender.PostAsync(endpoint.Url, endpoint.Secret, body, d.Id, attempt, o.RequestTimeout);
            now = time.GetUtcNow();
            WebhookAttempt[] attempts = [.. d.Attempts, new WebhookAttempt(now, status, error, Math.Round(ms, 1))];
            var failures = attempts.Skip(d.AttemptsBeforeReplay).Reverse().TakeWhile(a => a.Error is not null).Count();
            deliveries[i] = error is null
                ? d with { State = WebhookStates.Delivered, Attempts = attempts, NextAttemptAt = null }
                : failures >= o.MaxAttempts
                    ? d with { State = WebhookStates.Parked, Attempts = attempts, NextAttemptAt = null }
                    : d with { Attempts = attempts, NextAttemptAt = now + Backoff(failures, o) };
            if (error is not null)
            {
                LogAttemptFailed(logger, d.Id, attempt, endpoint.Url, error, deliveries[i].State);
            }
            await state.WriteStateAsync(CancellationToken.None); // an attempt made is recorded, even at shutdown
        }
    }

    private static TimeSpan Backoff(int failures, WebhookOptions o)
    {
        var ticks = o.BaseBackoff.Ticks * Math.Pow(2, Math.Min(failures - 1, 30));
        return TimeSpan.FromTicks((long)Math.Min(ticks, o.MaxBackoff.Ticks));
    }

    /// <summary>Keeps every pending and parked delivery, and the newest delivered ones.</summary>
    private void Trim()
    {
        var deliveries = state.State.Deliveries;
        var delivered = deliveries.Count(d => d.State == WebhookStates.Delivered);
        if (delivered <= MaxFinishedKept)
        {
            return;
        }
        var drop = delivered - MaxFinishedKept;
        deliveries.RemoveAll(d => d.State == WebhookStates.Delivered && drop-- > 0);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook delivery {Delivery} attempt {Attempt} to {Url} failed: {Error}; now {State}")]
    private static partial void LogAttemptFailed(ILogger logger, string delivery, int attempt, string url, string error, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook worker {Endpoint} could not run; the next tick tries again")]
    private static partial void LogPumpFailed(ILogger logger, string endpoint, Exception exception);
}

[GenerateSerializer, Alias("csm.WebhookState")]
public sealed class WebhookState
{
    [Id(0)] public WebhookEndpoint? Endpoint { get; set; }

    /// <summary>The last inbox change this worker has looked at.</summary>
    [Id(1)] public long Cursor { get; set; }

    /// <summary>Oldest first.</summary>
    [Id(2)] public List<WebhookDelivery> Deliveries { get; set; } = [];
}
