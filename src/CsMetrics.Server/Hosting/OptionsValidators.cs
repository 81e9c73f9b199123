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
        if (!string.Equals(o.Provider, StorageProviders.AzureTable, StringComparison.OrdinalIgnoreCase))
        {
            return ValidateOptionsResult.Success;
        }
        var table = new CsMetrics.Storage.AzureTable.Hosting.AzureTableStorageOptionsValidator(StorageOptions.Section + ":AzureTable").Validate(name, o.AzureTable);
        var errors = new List<string>(table.Failures ?? []);
        foreach (var (setting, value) in new[] { ("AlertTableName", o.AlertTableName), ("QuarantineTableName", o.QuarantineTableName), ("ViewTableName", o.ViewTableName) })
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(value ?? "", "^[A-Za-z][A-Za-z0-9]{2,62}$"))
            {
                errors.Add($"{StorageOptions.Section}:{setting}: expected 3 to 63 letters or digits starting with a letter, got \"{value}\"");
            }
        }
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
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
        if (o.MaxRequestsInFlight is < 0 or > 100_000)
        {
            errors.Add($"{IngestOptions.Section}:MaxRequestsInFlight: expected 0 (no bound) to 100000, got {o.MaxRequestsInFlight}");
        }
        if (o.MaxQueuedRequests is < 0 or > 100_000)
        {
            errors.Add($"{IngestOptions.Section}:MaxQueuedRequests: expected 0 to 100000, got {o.MaxQueuedRequests}");
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

internal sealed class PortfolioOptionsValidator : IValidateOptions<CsMetrics.Grains.Accounts.PortfolioOptions>
{
    public ValidateOptionsResult Validate(string? name, CsMetrics.Grains.Accounts.PortfolioOptions o)
    {
        List<string> errors = [];
        if (o.FlushInterval < TimeSpan.Zero || o.FlushInterval > TimeSpan.FromMinutes(1))
        {
            errors.Add($"{CsMetrics.Grains.Accounts.PortfolioOptions.Section}:FlushInterval: expected 00:00:00 to 00:01:00, got {o.FlushInterval}");
        }
        if (o.ScoreRefreshInterval < TimeSpan.Zero || o.ScoreRefreshInterval > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{CsMetrics.Grains.Accounts.PortfolioOptions.Section}:ScoreRefreshInterval: expected 00:00:00 to 00:10:00, got {o.ScoreRefreshInterval}");
        }
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}

internal sealed class AlertOptionsValidator : IValidateOptions<CsMetrics.Grains.Alerts.AlertOptions>
{
    public ValidateOptionsResult Validate(string? name, CsMetrics.Grains.Alerts.AlertOptions o)
    {
        const string section = CsMetrics.Grains.Alerts.AlertOptions.Section;
        var errors = new List<string>();
        if (o.ClockInterval < TimeSpan.FromMilliseconds(100) || o.ClockInterval > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{section}:ClockInterval: expected 00:00:00.1 to 00:10:00, got {o.ClockInterval}");
        }
        if (o.RetainResolved <= TimeSpan.Zero)
        {
            errors.Add($"{section}:RetainResolved: expected a duration greater than 0, got {o.RetainResolved}");
        }
        if (o.SnapshotEvery is < 100 or > 10_000_000)
        {
            errors.Add($"{section}:SnapshotEvery: expected 100 to 10000000 changes, got {o.SnapshotEvery}");
        }
        if (o.RetainChanges < 1000)
        {
            errors.Add($"{section}:RetainChanges: expected at least 1000, got {o.RetainChanges}");
        }
        if (o.SilenceSaveInterval < TimeSpan.Zero || o.SilenceSaveInterval > TimeSpan.FromMinutes(1))
        {
            errors.Add($"{section}:SilenceSaveInterval: expected 00:00:00 to 00:01:00, got {o.SilenceSaveInterval}");
        }
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}

internal sealed class WebhookOptionsValidator : IValidateOptions<CsMetrics.Grains.Alerts.WebhookOptions>
{
    public ValidateOptionsResult Validate(string? name, CsMetrics.Grains.Alerts.WebhookOptions o)
    {
        const string section = CsMetrics.Grains.Alerts.WebhookOptions.Section;
        var errors = new List<string>();
        void Positive(string setting, TimeSpan value)
        {
            if (value <= TimeSpan.Zero)
            {
                errors.Add($"{section}:{setting}: expected a duration greater than 0, got {value}");
            }
        }
        Positive("PollInterval", o.PollInterval);
        Positive("BaseBackoff", o.BaseBackoff);
        Positive("RequestTimeout", o.RequestTimeout);
        if (o.MaxBackoff < o.BaseBackoff)
        {
            errors.Add($"{section}:MaxBackoff: expected at least BaseBackoff ({o.BaseBackoff}), got {o.MaxBackoff}");
        }
        if (o.MaxAttempts is < 1 or > 100)
        {
            errors.Add($"{section}:MaxAttempts: expected 1 to 100, got {o.MaxAttempts}");
        }
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}

internal sealed partial class AccessOptionsValidator : IValidateOptions<CsMetrics.Server.Access.AccessOptions>
{
    public ValidateOptionsResult Validate(string? name, CsMetrics.Server.Access.AccessOptions o)
    {
        const string section = CsMetrics.Server.Access.AccessOptions.Section;
        var errors = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var hashes = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < o.Keys.Count; i++)
        {
            var k = o.Keys[i];
            var at = $"{section}:Keys:{i}";
            if (string.IsNullOrWhiteSpace(k.Name) || !names.Add(k.Name))
            {
                errors.Add($"{at}:Name: expected a name no other key has, got \"{k.Name}\"");
            }
            if (!Hash().IsMatch(k.Hash ?? ""))
            {
                errors.Add($"{at}:Hash: expected sha256: and 64 hex digits (printf '%s' \"$KEY\" | sha256sum), got something else (not shown)");
            }
            else if (!hashes.Add(k.Hash!))
            {
                errors.Add($"{at}:Hash: the same key is configured twice");
            }
            if (k.Scopes.Count == 0 || k.Scopes.Any(s => !CsMetrics.Server.Access.Scopes.All.Contains(s)))
            {
                errors.Add($"{at}:Scopes: expected one or more of {string.Join(", ", CsMetrics.Server.Access.Scopes.All)}, got [{string.Join(", ", k.Scopes)}]");
            }
            if (double.IsNaN(k.RequestsPerSecond) || k.RequestsPerSecond < 0)
            {
                errors.Add($"{at}:RequestsPerSecond: expected 0 (no limit) or more, got {k.RequestsPerSecond}");
            }
            if (k.Burst < 1)
            {
                errors.Add($"{at}:Burst: expected at least 1, got {k.Burst}");
            }
        }
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^sha256:[0-9a-fA-F]{64}$")]
    private static partial System.Text.RegularExpressions.Regex Hash();
}

internal sealed class DurabilityOptionsValidator(IOptions<StorageOptions> storage) : IValidateOptions<Durability.DurabilityOptions>
{
    public ValidateOptionsResult Validate(string? name, Durability.DurabilityOptions o)
    {
        const string section = Durability.DurabilityOptions.Section;
        var errors = new List<string>();
        if (!System.Text.RegularExpressions.Regex.IsMatch(o.LogTableName ?? "", "^[A-Za-z][A-Za-z0-9]{2,62}$"))
        {
            errors.Add($"{section}:LogTableName: expected 3 to 63 letters or digits starting with a letter, got \"{o.LogTableName}\"");
        }
        if (!Durability.LogStores.IsKnown(o.LogStore))
        {
            errors.Add($"{section}:LogStore: expected \"{Durability.LogStores.Blob}\" (append blobs) or \"{Durability.LogStores.Table}\" (table entities), got \"{o.LogStore}\"");
        }
        if (Durability.LogStores.IsKnown(o.LogStore) && !Durability.LogStores.IsTable(o.LogStore)
            && string.Equals(storage.Value.Provider, StorageProviders.AzureTable, StringComparison.OrdinalIgnoreCase)
            && storage.Value.AzureTable.ConnectionString is { } connection
            && connection.Contains("TableEndpoint=", StringComparison.OrdinalIgnoreCase)
            && !connection.Contains("BlobEndpoint=", StringComparison.OrdinalIgnoreCase))
        {
            // Otherwise the blob client would aim at the account's default endpoint and the node would never be ready.
            errors.Add($"{section}:LogStore: \"{Durability.LogStores.Blob}\" keeps the event log in blobs, and {StorageOptions.Section}:AzureTable:ConnectionString names a TableEndpoint but no BlobEndpoint; add the blob endpoint (deploy/azurite.sh prints both) or set {section}:LogStore to \"{Durability.LogStores.Table}\"");
        }
        if (!System.Text.RegularExpressions.Regex.IsMatch(o.LogContainerName ?? "", "^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$"))
        {
            errors.Add($"{section}:LogContainerName: expected 3 to 63 lowercase letters, digits and single hyphens, starting and ending with a letter or digit, got \"{o.LogContainerName}\"");
        }
        if (o.TruncateInterval < TimeSpan.FromSeconds(1) || o.TruncateInterval > TimeSpan.FromDays(1))
        {
            errors.Add($"{section}:TruncateInterval: expected 00:00:01 to 1.00:00:00, got {o.TruncateInterval}");
        }
        if (o.HeartbeatInterval < TimeSpan.FromMilliseconds(100) || o.HeartbeatInterval > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{section}:HeartbeatInterval: expected 00:00:00.1 to 00:05:00, got {o.HeartbeatInterval}");
        }
        if (o.OrphanAfter < o.HeartbeatInterval * 3)
        {
            errors.Add($"{section}:OrphanAfter: expected at least three heartbeat intervals ({o.HeartbeatInterval * 3}), got {o.OrphanAfter}; a slow heartbeat would get a live node's log adopted");
        }
        if (o.ReplayWindowEntries is < 1 or > 10_000)
        {
            errors.Add($"{section}:ReplayWindowEntries: expected 1 to 10000, got {o.ReplayWindowEntries}");
        }
        if (o.ReplayWindowEvents is < 1 or > 10_000_000)
        {
            errors.Add($"{section}:ReplayWindowEvents: expected 1 to 10000000, got {o.ReplayWindowEvents}");
        }
        if (o.Parallelism is < 1 or > 4096)
        {
            errors.Add($"{section}:Parallelism: expected 1 to 4096, got {o.Parallelism}");
        }
        if (o.CheckpointParallelism is < 1 or > 10_000)
        {
            errors.Add($"{section}:CheckpointParallelism: expected 1 to 10000, got {o.CheckpointParallelism}");
        }
        if (o.DrainTimeout < TimeSpan.Zero || o.DrainTimeout > TimeSpan.FromMinutes(30))
        {
            errors.Add($"{section}:DrainTimeout: expected 00:00:00 (off) to 00:30:00, got {o.DrainTimeout}");
        }
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }
}
