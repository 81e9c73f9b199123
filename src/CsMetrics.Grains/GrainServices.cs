using CsMetrics.Grains.Accounts;
using CsMetrics.Grains.Alerts;
using CsMetrics.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CsMetrics.Grains;

public static class GrainServices
{
    /// <summary>
    /// What the grains need beside Orleans: the silo's re-evaluation schedule, the alert outbox and
    /// clock, and what the silo knows of sources. An <see cref="Contracts.Alerts.IAlertStore"/>
    /// registered before this call is kept; otherwise alerts live in memory.
    /// </summary>
    public static IServiceCollection AddCsMetricsGrains(this IServiceCollection services)
    {
        services.TryAddKeyedSingleton<TimeProvider>(Clock.Key, (sp, _) => sp.GetRequiredService<TimeProvider>());
        services.AddSingleton<ReevaluationSchedule>();
        services.AddHostedService(sp => sp.GetRequiredService<ReevaluationSchedule>());
        services.AddOptions<AlertOptions>();
        services.TryAddSingleton<Contracts.Alerts.IAlertStore, MemoryAlertStore>();
        services.AddSingleton<AlertOutbox>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertOutbox>());
        services.TryAddSingleton<Contracts.Accounts.IPortfolioStores, MemoryPortfolioStores>();
        services.AddOptions<PortfolioOptions>();
        services.AddSingleton<PortfolioOutbox>();
        services.AddHostedService(sp => sp.GetRequiredService<PortfolioOutbox>());
        services.AddSingleton<SourceActivity>();
        services.AddSingleton<QuietSources>();
        // A factory, not a constructor for the container to validate at build: the storage it needs is
        // registered by whichever provider the configuration names, and a bad name must fail as the
        // options validation that names the setting, not as a missing service.
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<AccountGrainServices>(sp));
        services.AddOptions<WebhookOptions>();
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<AlertClock>();
        services.AddHostedService(sp => sp.GetRequiredService<AlertClock>());
        return services;
    }
}
