using CsMetrics.Storage.AzureTable.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Storage;

namespace CsMetrics.Storage.AzureTable.Hosting;

public static class AzureTableStorageExtensions
{
    /// <summary>
    /// Adds a named grain storage provider on Azure Table Storage; grains use it with
    /// <c>[PersistentState("state", name)]</c>. <paramref name="configurationSection"/> names the
    /// settings in validation messages.
    /// </summary>
    public static ISiloBuilder AddAzureTableGrainStorage(
        this ISiloBuilder builder,
        string name,
        Action<OptionsBuilder<AzureTableStorageOptions>>? configure = null,
        string configurationSection = "AzureTableStorage")
    {
        var services = builder.Services;
        var options = services.AddOptions<AzureTableStorageOptions>(name).ValidateOnStart();
        configure?.Invoke(options);
        services.AddSingleton<IValidateOptions<AzureTableStorageOptions>>(new AzureTableStorageOptionsValidator(configurationSection));
        services.AddTransient<IPostConfigureOptions<AzureTableStorageOptions>, DefaultStorageProviderSerializerOptionsConfigurator<AzureTableStorageOptions>>();
        services.AddGrainStorage(name, (sp, n) => new AzureTableGrainStorage(
            n,
            sp.GetRequiredService<IOptionsMonitor<AzureTableStorageOptions>>().Get(n),
            sp.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId,
            sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<AzureTableGrainStorage>>(),
            configurationSection));
        return builder;
    }
}
