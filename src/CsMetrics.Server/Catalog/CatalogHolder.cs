using Microsoft.Extensions.DependencyInjection;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Scoring.Catalog;
using CsMetrics.Scoring.Model;

namespace CsMetrics.Server.Catalog;

/// <summary>
/// This node's current catalog and validator: the built-in catalog and the catalog file, plus the
/// types published to the schema registry, followed every <see cref="RefreshInterval"/> (and at
/// once after a publication on this node). The registry is a grain, so the first read waits until
/// the host has started (the silo among its services): asked earlier, while the silo is still
/// joining its cluster, placement can only fail and retry, with a warning each time.
/// </summary>
public sealed partial class CatalogHolder(EventCatalog baseCatalog, ScoringModel model, IGrainFactory grains, IHostApplicationLifetime lifetime,
    IClusterManifestProvider manifests, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time, ILogger<CatalogHolder> logger)
    : BackgroundService
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(5);

    private volatile State _state = new(-1, baseCatalog, new EventValidator(baseCatalog, model));
    private volatile bool _loaded;

    private sealed record State(long Revision, EventCatalog Catalog, EventValidator Validator);

    public EventCatalog Catalog => _state.Catalog;

    public EventValidator Validator => _state.Validator;

    /// <summary>The schema registry has been read at least once: events of published types are known (for readiness).</summary>
    public bool Loaded => _loaded;

    public void Apply(CatalogSnapshot snapshot)
    {
        if (snapshot.Revision <= _state.Revision)
        {
            return;
        }
        var catalog = baseCatalog;
        foreach (var json in snapshot.Schemas)
        {
            catalog = catalog.With(EventTypeSchema.Parse(json), out var error);
            if (error is not null)
            {
                LogSkipped(logger, error);
            }
        }
        _state = new State(snapshot.Revision, catalog, new EventValidator(catalog, model));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stoppingToken);
        }
        // Reads stop as soon as the node starts stopping, not when this service does: by then the
        // silo may be leaving the cluster, and a read would fail placement and retry with a warning.
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, lifetime.ApplicationStopping);
        var token = stopping.Token;
        try
        {
            await UntilPlaceableAsync(token);
            while (!token.IsCancellationRequested)
            {
                try
                {
                    Apply(await grains.GetGrain<ICatalogRegistryGrain>(0).GetAsync());
                    _loaded = true;
                }
                catch (Exception e) when (!token.IsCancellationRequested)
                {
                    LogRefreshFailed(logger, e);
                }
                await Task.Delay(RefreshInterval, time, token);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// Placement also needs a node that hosts the registry in the cluster manifest, which on a loaded
    /// machine has come a moment after the host started: a call before it fails placement and retries
    /// with a warning. Waits for it (in real time, at most 30 s; the read retries anyway after that).
    /// </summary>
    private async Task UntilPlaceableAsync(CancellationToken stoppingToken)
    {
        var registry = grains.GetGrain<ICatalogRegistryGrain>(0).GetGrainId().Type;
        var clock = TimeProvider.System;
        var since = clock.GetTimestamp();
        while (!manifests.Current.Silos.Values.Any(silo => silo.Grains.ContainsKey(registry)) && clock.GetElapsedTime(since) < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), clock, stoppingToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A published event type no longer fits the catalog and is left out: {Error}")]
    private static partial void LogSkipped(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not read the schema registry; keeping the catalog as it is")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
