using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Storage.AzureTable.Storage;

namespace CsMetrics.Storage.AzureTable.Alerts;

/// <summary>
/// Alerts in Azure Table Storage, append-only for changes: every change is one entity in
/// partition <c>{ServiceId}_alertlog_{sequence / 1000}</c> (RowKey the zero-padded sequence), and
/// each alert's current form one entity in <c>{ServiceId}_alerts</c> (RowKey the alert id), both as
/// JSON. A save writes the changes first, then the current forms, each as entity-group transactions
/// of up to 100; both are upserts, so a save repeated after a failure is harmless. Loading takes the
/// current forms plus the newest change, so sequence numbers never go back after a restart.
/// </summary>
public sealed class AzureTableAlertStore : IAlertStore
{
    private const long ChangesPerPartition = 1000;
    private const int MaxPerTransaction = 100;
    private const string JsonProperty = "Alert";

    private readonly TableClient _table;
    private readonly string _prefix;
    private volatile bool _ready;

    public AzureTableAlertStore(string connectionString, string tableName, string serviceId, TimeSpan requestTimeout)
    {
        var clientOptions = new TableClientOptions();
        clientOptions.Retry.NetworkTimeout = requestTimeout;
        _table = new TableServiceClient(connectionString, clientOptions).GetTableClient(tableName);
        _prefix = TableKeys.Escape(serviceId);
    }

    private string CurrentPartition => $"{_prefix}_alerts";

    private string ChangePartition(long sequence) =>
        string.Create(CultureInfo.InvariantCulture, $"{_prefix}_alertlog_{sequence / ChangesPerPartition:D12}");

    private static string Row(long sequence) => sequence.ToString("D19", CultureInfo.InvariantCulture);

    private async Task EnsureTableAsync(CancellationToken cancellationToken)
    {
        if (!_ready)
        {
            await _table.CreateIfNotExistsAsync(cancellationToken);
            _ready = true;
        }
    }

    public async Task SaveAsync(IReadOnlyList<Alert> changes, CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        var log = changes.Select(c => Entity(ChangePartition(c.Sequence), Row(c.Sequence), c));
        await UpsertAsync(log, cancellationToken);
        var current = changes.GroupBy(c => c.Id, StringComparer.Ordinal)
            .Select(g => g.MaxBy(c => c.Sequence)!)
            .Select(c => Entity(CurrentPartition, TableKeys.Escape(c.Id), c));
        await UpsertAsync(current, cancellationToken);
    }

    public async Task<(List<Alert> Alerts, long LastSequence)> LoadAsync(CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        var alerts = new List<Alert>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {CurrentPartition}");
        await foreach (var entity in _table.QueryAsync<TableEntity>(filter, maxPerPage: 1000, cancellationToken: cancellationToken))
        {
            alerts.Add(Read(entity));
        }
        var last = alerts.Count == 0 ? 0 : alerts.Max(a => a.Sequence);
        // A change saved just before a crash may be newer than every current form.
        foreach (var change in await ReadChangesAsync(last, int.MaxValue, cancellationToken))
        {
            last = Math.Max(last, change.Sequence);
        }
        return (alerts, last);
    }

    public async Task<List<Alert>> ReadChangesAsync(long after, int limit, CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        var result = new List<Alert>();
        var from = ChangePartition(after + 1);
        var to = $"{_prefix}_alertlog_~";
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {from} and PartitionKey lt {to} and RowKey gt {Row(after)}");
        await foreach (var entity in _table.QueryAsync<TableEntity>(filter, maxPerPage: 1000, cancellationToken: cancellationToken))
        {
            result.Add(Read(entity));
            if (result.Count >= limit)
            {
                break;
            }
        }
        return result;
    }

    public async Task PruneAsync(IReadOnlyList<string> alertIds, long changesBefore, CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        foreach (var chunk in alertIds.Chunk(MaxPerTransaction))
        {
            await SubmitAsync([.. chunk.Select(id => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(CurrentPartition, TableKeys.Escape(id)), ETag.All))], cancellationToken);
        }
        // Whole partitions of changes below the cut.
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {ChangePartition(0)} and PartitionKey lt {ChangePartition(changesBefore)}");
        var doomed = new List<TableEntity>();
        await foreach (var entity in _table.QueryAsync<TableEntity>(filter, maxPerPage: 1000, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken))
        {
            doomed.Add(entity);
        }
        foreach (var partition in doomed.GroupBy(e => e.PartitionKey))
        {
            foreach (var chunk in partition.Chunk(MaxPerTransaction))
            {
                await SubmitAsync([.. chunk.Select(e => new TableTransactionAction(TableTransactionActionType.Delete, e, ETag.All))], cancellationToken);
            }
        }
    }

    private async Task UpsertAsync(IEnumerable<TableEntity> entities, CancellationToken cancellationToken)
    {
        foreach (var partition in entities.GroupBy(e => e.PartitionKey))
        {
            foreach (var chunk in partition.Chunk(MaxPerTransaction))
            {
                await SubmitAsync([.. chunk.Select(e => new TableTransactionAction(TableTransactionActionType.UpsertReplace, e))], cancellationToken);
            }
        }
    }

    private async Task SubmitAsync(List<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        if (actions.Count == 1)
        {
            var a = actions[0];
            if (a.ActionType == TableTransactionActionType.Delete)
            {
                await _table.DeleteEntityAsync(a.Entity.PartitionKey, a.Entity.RowKey, ETag.All, cancellationToken);
            }
            else
            {
                await _table.UpsertEntityAsync((TableEntity)a.Entity, TableUpdateMode.Replace, cancellationToken);
            }
            return;
        }
        try
        {
            await _table.SubmitTransactionAsync(actions, cancellationToken);
        }
        catch (TableTransactionFailedException e) when (e.Status == 404 && actions.All(a => a.ActionType == TableTransactionActionType.Delete))
        {
            // Something else deleted one of them first: delete the rest one by one.
            foreach (var a in actions)
            {
                try
                {
                    await _table.DeleteEntityAsync(a.Entity.PartitionKey, a.Entity.RowKey, ETag.All, cancellationToken);
                }
                catch (RequestFailedException gone) when (gone.Status == 404)
                {
                }
            }
        }
    }

    private static TableEntity Entity(string partition, string row, Alert alert) => new(partition, row)
    {
        [JsonProperty] = JsonSerializer.SerializeToUtf8Bytes(alert, AlertJsonContext.Default.Alert),
    };

    private static Alert Read(TableEntity entity) =>
        JsonSerializer.Deserialize(entity.GetBinary(JsonProperty), AlertJsonContext.Default.Alert)
        ?? throw new JsonException($"alert row {entity.PartitionKey}/{entity.RowKey} decoded to null");
}
