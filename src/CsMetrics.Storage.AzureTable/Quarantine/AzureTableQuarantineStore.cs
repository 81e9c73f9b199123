using Azure;
using Azure.Data.Tables;
using CsMetrics.Contracts.Quarantine;
using CsMetrics.Storage.AzureTable.Storage;

namespace CsMetrics.Storage.AzureTable.Quarantine;

/// <summary>
/// The quarantine in Azure Table Storage: one entity per rejected event in partition
/// <c>{ServiceId}_q_{producer}</c> (so one producer's events are one range, and a transaction
/// writes a request's rejects together), RowKey the event's key; every field a column, the raw
/// event as a string.
/// </summary>
public sealed class AzureTableQuarantineStore : IQuarantineStore
{
    private readonly TableClient _table;
    private readonly string _prefix;
    private volatile bool _ready;

    public AzureTableQuarantineStore(string connectionString, string tableName, string serviceId, TimeSpan requestTimeout)
    {
        var clientOptions = new TableClientOptions();
        clientOptions.Retry.NetworkTimeout = requestTimeout;
        _table = new TableServiceClient(connectionString, clientOptions).GetTableClient(tableName);
        _prefix = TableKeys.Escape(serviceId) + "_q_";
    }

    private string Partition(string producer) => _prefix + TableKeys.Escape(producer);

    private async Task EnsureTableAsync(CancellationToken cancellationToken)
    {
        if (!_ready)
        {
            await _table.CreateIfNotExistsAsync(cancellationToken);
            _ready = true;
        }
    }

    public async Task AddAsync(IReadOnlyList<QuarantinedEvent> events, CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        foreach (var partition in events.GroupBy(e => Partition(e.Producer)))
        {
            foreach (var chunk in partition.DistinctBy(e => e.Key).Chunk(50))
            {
                var actions = chunk.Select(e => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new TableEntity(partition.Key, e.Key)
                {
                    ["EventId"] = e.EventId,
                    ["Producer"] = e.Producer,
                    ["Source"] = e.Source,
                    ["Format"] = e.Format,
                    ["Reason"] = e.Reason,
                    ["ReceivedAt"] = e.ReceivedAt,
                    ["Raw"] = e.Raw,
                })).ToList();
                await _table.SubmitTransactionAsync(actions, cancellationToken);
            }
        }
    }

    public async Task<List<QuarantinedEvent>> ListAsync(string? producer, int max = int.MaxValue, CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        var filter = producer is null
            ? TableClient.CreateQueryFilter($"PartitionKey ge {_prefix} and PartitionKey lt {_prefix + "~"}")
            : TableClient.CreateQueryFilter($"PartitionKey eq {Partition(producer)}");
        var result = new List<QuarantinedEvent>();
        await foreach (var e in _table.QueryAsync<TableEntity>(filter, maxPerPage: 1000, cancellationToken: cancellationToken))
        {
            result.Add(new QuarantinedEvent(e.RowKey, e.GetString("EventId"), e.GetString("Producer") ?? "", e.GetString("Source"),
                e.GetString("Format") ?? QuarantinedEvent.Native, e.GetString("Reason") ?? "", e.GetDateTimeOffset("ReceivedAt") ?? default, e.GetString("Raw") ?? ""));
            if (result.Count >= max)
            {
                break;
            }
        }
        result.Sort((a, b) => a.ReceivedAt.CompareTo(b.ReceivedAt));
        return result;
    }

    public async Task RemoveAsync(IReadOnlyList<QuarantinedEvent> events, CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        foreach (var partition in events.GroupBy(e => Partition(e.Producer)))
        {
            foreach (var chunk in partition.DistinctBy(e => e.Key).Chunk(100))
            {
                try
                {
                    await _table.SubmitTransactionAsync(
                        [.. chunk.Select(e => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partition.Key, e.Key), ETag.All))],
                        cancellationToken);
                }
                catch (TableTransactionFailedException)
                {
                    // One was gone already (a replay on another node): delete the rest one by one.
                    foreach (var e in chunk)
                    {
                        try
                        {
                            await _table.DeleteEntityAsync(partition.Key, e.Key, ETag.All, cancellationToken);
                        }
                        catch (RequestFailedException gone) when (gone.Status == 404)
                        {
                        }
                    }
                }
            }
        }
    }
}
