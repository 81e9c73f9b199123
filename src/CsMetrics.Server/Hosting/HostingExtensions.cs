using CsMetrics.Contracts.Accounts;
using CsMetrics.Grains;
using CsMetrics.Grains.Accounts;
using CsMetrics.Grains.Alerts;
using CsMetrics.Server.Durability;
using CsMetrics.Storage.AzureTable.Hosting;
using CsMetrics.Scoring.Catalog;
using CsMetrics.Scoring.Model;
using CsMetrics.Server.Ingest;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace CsMetrics.Server.Hosting;

public static class HostingExtensions
{
    /// <summary>Options (validated at start-up), the scoring model and catalog, and the ingest pipeline.</summary>
    public static WebApplicationBuilder AddCsMetrics(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var config = builder.Configuration;
        services.AddOptions<NodeOptions>().Bind(config.GetSection(NodeOptions.Section)).ValidateOnStart();
        services.AddOptions<StorageOptions>().Bind(config.GetSection(StorageOptions.Section)).ValidateOnStart();
        services.AddOptions<ModelOptions>().Bind(config.GetSection(ModelOptions.Section)).ValidateOnStart();
        services.AddOptions<IngestOptions>().Bind(config.GetSection(IngestOptions.Section)).ValidateOnStart();
        services.AddOptions<DurabilityOptions>().Bind(config.GetSection(DurabilityOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<DurabilityOptions>, DurabilityOptionsValidator>();
        // Read from configuration, not the validated options: the host resolves HostOptions while it is
        // built, before start-up validation reports every bad setting together.
        var drain = config.GetSection(DurabilityOptions.Section).Get<DurabilityOptions>()?.DrainTimeout ?? TimeSpan.Zero;
        services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(30) + (drain > TimeSpan.Zero && drain <= TimeSpan.FromMinutes(30) ? drain : TimeSpan.Zero));
        services.AddOptions<AccountGrainOptions>().Bind(config.GetSection(AccountGrainOptions.Section));
        services.AddOptions<AlertOptions>().Bind(config.GetSection(AlertOptions.Section)).ValidateOnStart();
        services.AddOptions<WebhookOptions>().Bind(config.GetSection(WebhookOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<AlertOptions>, AlertOptionsValidator>();
        services.AddOptions<CsMetrics.Grains.Accounts.PortfolioOptions>().Bind(config.GetSection(CsMetrics.Grains.Accounts.PortfolioOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<CsMetrics.Grains.Accounts.PortfolioOptions>, PortfolioOptionsValidator>();
        services.AddOptions<Access.AccessOptions>().Bind(config.GetSection(Access.AccessOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<Access.AccessOptions>, AccessOptionsValidator>();
        services.AddSingleton<Access.ApiKeys>();
        services.AddSingleton<Quarantine.DriftMonitor>();
        services.AddOptions<Segment.SegmentOptions>().Bind(config.GetSection(Segment.SegmentOptions.Section));
        services.AddSingleton<Segment.SegmentIngest>();
        services.AddSingleton<Contracts.Quarantine.IQuarantineStore>(sp =>
        {
            var storage = sp.GetRequiredService<IOptions<StorageOptions>>().Value;
            if (!string.Equals(storage.Provider, StorageProviders.AzureTable, StringComparison.OrdinalIgnoreCase))
            {
                return new Quarantine.MemoryQuarantineStore();
            }
            var node = sp.GetRequiredService<IOptions<NodeOptions>>().Value;
            return new CsMetrics.Storage.AzureTable.Quarantine.AzureTableQuarantineStore(
                storage.AzureTable.ConnectionString!, storage.QuarantineTableName, node.ServiceId, storage.AzureTable.RequestTimeout);
        });
        services.AddSingleton<IValidateOptions<WebhookOptions>, WebhookOptionsValidator>();
        services.AddSingleton<Alerts.AlertFeed>();
        services.AddHostedService(sp => sp.GetRequiredService<Alerts.AlertFeed>());
        services.AddOptions<Bench.BenchOptions>().Bind(config.GetSection(Bench.BenchOptions.Section));
        services.AddSingleton<IValidateOptions<NodeOptions>, NodeOptionsValidator>();
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>();
        services.AddSingleton<IValidateOptions<ModelOptions>, ModelOptionsValidator>();
        services.AddSingleton<IValidateOptions<IngestOptions>, IngestOptionsValidator>();

        var clock = config.GetSection(ClockOptions.Section).Get<ClockOptions>() ?? new ClockOptions();
        if (clock.SpeedUp is < 1 or > 1_000_000 || double.IsNaN(clock.SpeedUp))
        {
            throw new OptionsValidationException(ClockOptions.Section, typeof(ClockOptions),
                [$"{ClockOptions.Section}:SpeedUp: expected a number from 1 (real time) to 1000000, got {clock.SpeedUp}"]);
        }
        services.TryAddSingleton(TimeProvider.System);
        if (clock.SpeedUp != 1)
        {
            // Only CsMetrics' own clock runs faster; Orleans keeps the real one (its membership declares a silo dead on a fast clock).
            services.AddKeyedSingleton<TimeProvider>(CsMetrics.Grains.Clock.Key, new ScaledClock(TimeProvider.System, clock.SpeedUp));
        }
        services.AddSingleton(sp => ScoringFiles.LoadModel(sp.GetRequiredService<IOptions<ModelOptions>>().Value));
        services.AddSingleton(sp => ScoringFiles.LoadCatalog(sp.GetRequiredService<IOptions<ModelOptions>>().Value));
        services.AddSingleton(sp => new EventValidator(sp.GetRequiredService<EventCatalog>(), sp.GetRequiredService<ScoringModel>()));
        services.AddSingleton<Catalog.CatalogHolder>();
        services.AddHostedService(sp => sp.GetRequiredService<Catalog.CatalogHolder>());
        services.AddSingleton<AccountGrains>();
        services.AddSingleton<GrainReferences<Contracts.Bench.IBaselineGrain>>();
        services.AddSingleton<EventIngestor>();
        services.AddSingleton<DurableLog>();
        services.AddHostedService(sp => sp.GetRequiredService<DurableLog>());
        services.AddProblemDetails();
        services.AddIngestAdmission();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, Json.ApiJsonContext.Default));

        builder.UseOrleans(silo => ConfigureSilo(silo, config));
        // After the silo's own hosted service, so it stops before the silo does (and after the HTTP
        // server, which minimal hosting registers last and so stops first).
        services.AddHostedService<GracefulDrain>();
        return builder;
    }

    private static void ConfigureSilo(ISiloBuilder silo, IConfiguration config)
    {
        var node = config.GetSection(NodeOptions.Section).Get<NodeOptions>() ?? new NodeOptions();
        var primary = node.PrimarySiloPort is { } port ? new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port) : null;
        silo.UseLocalhostClustering(node.SiloPort, node.GatewayPort, primary, node.ServiceId, node.ClusterId);
        silo.Services.AddCsMetricsGrains();

        // Orleans' own binary format for stored state: compact and fast (the default is Newtonsoft JSON).
        silo.Services.AddSingleton<Orleans.Storage.IGrainStorageSerializer, Orleans.Storage.OrleansGrainStorageSerializer>();

        var storage = config.GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        if (string.Equals(storage.Provider, StorageProviders.Memory, StringComparison.OrdinalIgnoreCase))
        {
            silo.AddMemoryGrainStorage(StorageNames.Default);
        }
        else if (string.Equals(storage.Provider, StorageProviders.AzureTable, StringComparison.OrdinalIgnoreCase))
        {
            const string section = StorageOptions.Section + ":AzureTable";
            // Account checkpoints are packed unless the configuration says otherwise ("" packs nothing):
            // a truncation round writes every account fed since the last, and storage charges per entity.
            silo.AddAzureTableGrainStorage(StorageNames.Default, o => o.Configure(t => t.PackedStates = AccountGrain.StateName).Bind(config.GetSection(section)), section);
            silo.Services.AddSingleton<Contracts.Alerts.IAlertStore>(sp =>
            {
                var table = storage.AzureTable;
                return new CsMetrics.Storage.AzureTable.Alerts.AzureTableAlertStore(table.ConnectionString!, storage.AlertTableName, node.ServiceId, table.RequestTimeout);
            });
            silo.Services.AddSingleton<Contracts.Accounts.IPortfolioStores>(sp =>
            {
                var table = storage.AzureTable;
                return new CsMetrics.Storage.AzureTable.ChangeLog.AzureTablePortfolioStores(table.ConnectionString!, storage.ViewTableName, node.ServiceId, table.RequestTimeout);
            });
        }
    }
}
