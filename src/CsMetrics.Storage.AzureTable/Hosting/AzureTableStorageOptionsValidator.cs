using System.Text.RegularExpressions;
using Azure.Data.Tables;
using Microsoft.Extensions.Options;

namespace CsMetrics.Storage.AzureTable.Hosting;

/// <summary>Reports every bad setting of a provider by name; never echoes the connection string.</summary>
public sealed partial class AzureTableStorageOptionsValidator(string section) : IValidateOptions<AzureTableStorageOptions>
{
    public ValidateOptionsResult Validate(string? name, AzureTableStorageOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            errors.Add($"{section}:ConnectionString: required (an Azure Storage connection string, or Azurite's with TableEndpoint=http://127.0.0.1:PORT/devstoreaccount1)");
        }
        else
        {
            try
            {
                _ = new TableServiceClient(options.ConnectionString);
            }
            catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException)
            {
                errors.Add($"{section}:ConnectionString: not a valid Azure Storage connection string ({e.GetType().Name})");
            }
        }
        if (!TableName().IsMatch(options.TableName ?? ""))
        {
            errors.Add($"{section}:TableName: expected 3 to 63 letters or digits starting with a letter, got \"{options.TableName}\"");
        }
        if (options.RequestTimeout <= TimeSpan.Zero || options.RequestTimeout > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{section}:RequestTimeout: expected more than 0 and at most 00:05:00, got {options.RequestTimeout}");
        }
        if (options.PartitionBuckets is < 0 or > 10_000)
        {
            errors.Add($"{section}:PartitionBuckets: expected 0 (a partition per grain) to 10000, got {options.PartitionBuckets}");
        }
        if (options.TableShards is < 1 or > 64)
        {
            errors.Add($"{section}:TableShards: expected 1 to 64 tables, got {options.TableShards}");
        }
        else if (options.PartitionBuckets > 0 && options.PartitionBuckets < options.TableShards)
        {
            errors.Add($"{section}:TableShards: {options.TableShards} tables need PartitionBuckets of at least as many (whole partitions go to a table), got {options.PartitionBuckets}");
        }
        else if (options.EffectiveTableShards > 1 && (options.TableName?.Length ?? 0) > 61)
        {
            errors.Add($"{section}:TableName: at most 61 characters with TableShards {options.TableShards} (the tables after the first take a two-digit suffix), got {options.TableName!.Length}");
        }
        if (options.PrefetchLifetime < TimeSpan.Zero || options.PrefetchLifetime > TimeSpan.FromMinutes(1))
        {
            errors.Add($"{section}:PrefetchLifetime: expected 00:00:00 to 00:01:00, got {options.PrefetchLifetime}");
        }
        if (options.PrefetchMaxAge < options.PrefetchLifetime || options.PrefetchMaxAge > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{section}:PrefetchMaxAge: expected at least PrefetchLifetime ({options.PrefetchLifetime}) and at most 00:10:00, got {options.PrefetchMaxAge}");
        }
        if (options.PackedStateNames.Count > 0 && options.PartitionBuckets <= 0)
        {
            errors.Add($"{section}:PackedStates: packing \"{options.PackedStates}\" needs PartitionBuckets above 0 (packs share a partition), got {options.PartitionBuckets}");
        }
        if (options.PackBytes is < 16 * 1024 or > 900 * 1024)
        {
            errors.Add($"{section}:PackBytes: expected 16384 to 921600 bytes, got {options.PackBytes}");
        }
        if (options.PrefetchBudgetBytes < 0)
        {
            errors.Add($"{section}:PrefetchBudgetBytes: expected 0 or more bytes, got {options.PrefetchBudgetBytes}");
        }
        return errors.Count > 0 ? ValidateOptionsResult.Fail(errors) : ValidateOptionsResult.Success;
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    private static partial Regex TableName();
}
