using CsMetrics.Grains.Accounts;
using Microsoft.Extensions.DependencyInjection;

namespace CsMetrics.Grains;

public static class GrainServices
{
    /// <summary>What the account and alert grains need beside Orleans: the silo's re-evaluation schedule.</summary>
    public static IServiceCollection AddCsMetricsGrains(this IServiceCollection services)
    {
        services.AddSingleton<ReevaluationSchedule>();
        services.AddHostedService(sp => sp.GetRequiredService<ReevaluationSchedule>());
        return services;
    }
}
