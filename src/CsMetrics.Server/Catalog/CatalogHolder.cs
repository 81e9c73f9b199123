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
    [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time, ILogger<CatalogHolder> logger)
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
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                Apply(await grains.GetGrain<ICatalogRegistryGrain>(0).GetAsync());
                _loaded = true;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogRefreshFailed(logger, e);
            }
            await Task.Delay(RefreshInterval, time, stoppingToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A published event type no longer fits the catalog and is left out: {Error}")]
    private static partial void LogSkipped(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not read the schema registry; keeping the catalog as it is")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);
}
