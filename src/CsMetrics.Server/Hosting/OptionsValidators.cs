using CsMetrics.Scoring.Catalog;
using CsMetrics.Scoring.Model;
using Microsoft.Extensions.Options;

namespace CsMetrics.Server.Hosting;

internal sealed class NodeOptionsValidator : IValidateOptions<NodeOptions>
{
    public ValidateOptionsResult Validate(string? name, NodeOptions o)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(o.ServiceId))
        {
            errors.Add($"{NodeOptions.Section}:ServiceId: expected a non-empty name");
        }
        if (string.IsNullOrWhiteSpace(o.ClusterId))
        {
            errors.Add($"{NodeOptions.Section}:ClusterId: expected a non-empty name");
        }
        Port(errors, "SiloPort", o.SiloPort);
        Port(errors, "GatewayPort", o.GatewayPort);
        if (o.PrimarySiloPort is { } primary)
        {
            Port(errors, "PrimarySiloPort", primary);
        }
        if (o.SiloPort == o.GatewayPort)
        {
            errors.Add($"{NodeOptions.Section}:GatewayPort: must differ from SiloPort ({o.SiloPort})");
        }
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }

    private static void Port(List<string> errors, string setting, int port)
    {
        if (port is < 1 or > 65535)
        {
            errors.Add($"{NodeOptions.Section}:{setting}: expected a port from 1 to 65535, got {port}");
        }
    }
}

internal sealed class StorageOptionsValidator : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions o)
    {
        if (!StorageProviders.All.Contains(o.Provider, StringComparer.OrdinalIgnoreCase))
        {
            return ValidateOptionsResult.Fail($"{StorageOptions.Section}:Provider: expected one of {string.Join(", ", StorageProviders.All)}, got \"{o.Provider}\"");
        }
        return string.Equals(o.Provider, StorageProviders.AzureTable, StringComparison.OrdinalIgnoreCase)
            ? new CsMetrics.Storage.AzureTable.Hosting.AzureTableStorageOptionsValidator(StorageOptions.Section + ":AzureTable").Validate(name, o.AzureTable)
            : ValidateOptionsResult.Success;
    }
}

internal sealed class IngestOptionsValidator : IValidateOptions<IngestOptions>
{
    public ValidateOptionsResult Validate(string? name, IngestOptions o)
    {
        var errors = new List<string>();
        if (o.MaxEvents is < 1 or > 100_000)
        {
            errors.Add($"{IngestOptions.Section}:MaxEvents: expected 1 to 100000, got {o.MaxEvents}");
        }
        if (o.MaxBodyBytes is < 1024 or > 64 * 1024 * 1024)
        {
            errors.Add($"{IngestOptions.Section}:MaxBodyBytes: expected 1024 to 67108864, got {o.MaxBodyBytes}");
        }
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}

/// <summary>Loads the model and catalog files at start-up, so a bad file stops the node with every error named.</summary>
internal sealed class ModelOptionsValidator : IValidateOptions<ModelOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelOptions o)
    {
        try
        {
            _ = ScoringFiles.LoadModel(o);
            _ = ScoringFiles.LoadCatalog(o);
            return ValidateOptionsResult.Success;
        }
        catch (ModelValidationException e)
        {
            return ValidateOptionsResult.Fail(e.Errors.Select(err => $"{ModelOptions.Section}:Path ({o.Path}): {err}"));
        }
        catch (CatalogValidationException e)
        {
            return ValidateOptionsResult.Fail(e.Errors.Select(err => $"{ModelOptions.Section}:CatalogPath ({o.CatalogPath}): {err}"));
        }
        catch (IOException e)
        {
            return ValidateOptionsResult.Fail($"{ModelOptions.Section}: cannot read a file: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            return ValidateOptionsResult.Fail($"{ModelOptions.Section}: cannot read a file: {e.Message}");
        }
    }
}

/// <summary>Reads the configured scoring model and catalog (or the built-in ones).</summary>
public static class ScoringFiles
{
    public static ScoringModel LoadModel(ModelOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.Path))
        {
            return ScoringModel.Default;
        }
        using var stream = File.OpenRead(o.Path);
        return ScoringModel.Parse(stream, o.Path);
    }

    public static EventCatalog LoadCatalog(ModelOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.CatalogPath))
        {
            return EventCatalog.Default;
        }
        using var stream = File.OpenRead(o.CatalogPath);
        return EventCatalog.Default.Extend(EventCatalog.Parse(stream, o.CatalogPath), o.CatalogPath);
    }
}
