using System.Globalization;
using System.Runtime.CompilerServices;
using Azure;
using Azure.Data.Tables;
using Microsoft.Extensions.Logging;

namespace CsMetrics.Storage.AzureTable.Log;

/// <summary>
/// A write-ahead log in Azure Table Storage. Each node appends to its own log (a partition
/// <c>{ServiceId}_log_{LogId}</c>, one entity per appended payload, RowKey the zero-padded
/// sequence number). Concurrent appends are group-committed: whatever is waiting when the
/// previous write finishes goes out as one entity-group transaction (up to 100 entities, 3.5 MB),
/// and every caller in it is answered when that single transaction is durable.
/// Any node can read every log of the service, so a log whose node died is replayed by another.
/// The log for storage with tables and no blobs (Azure Cosmos DB for Table); with Azure Storage,
/// <see cref="AzureBlobEventLog"/> costs the storage service less per appended byte.
/// </summary>
public sealed class AzureTableEventLog : GroupCommitLog, IEventLog
{
    private const int MaxEntitiesPerTransaction = 100;
    private const int MaxBytesPerTransaction = 3_500_000;
    private const int MaxPayloadBytes = 15 * 64 * 1024;
    private const string SizeProperty = "Bytes";

    private readonly TableClient _table;
    private readonly string _serviceId;

    public AzureTableEventLog(string connectionString, string tableName, string serviceId, string logId, TimeSpan requestTimeout, ILogger logger)
        : base(MaxPayloadBytes, MaxEntitiesPerTransaction, MaxBytesPerTransaction, logger)
    {
        var clientOptions = new TableClientOptions();
        clientOptions.Retry.NetworkTimeout = requestTimeout;
        clientOptions.Retry.MaxRetries = 1;
        _table = new TableServiceClient(connectionString, clientOptions).GetTableClient(tableName);
        _serviceId = serviceId;
        LogId = logId;
        StartWriter();
    }

    /// <summary>This node's log.</summary>
    public string LogId { get; }

    public string Location => $"table {_table.Name}";

    private string PartitionPrefix => $"{TableKeysPrefix(_serviceId)}_log_";

    private string Partition(string logId) => PartitionPrefix + logId;

    public Task CreateIfNotExistsAsync(CancellationToken cancellationToken) => _table.CreateIfNotExistsAsync(cancellationToken);

    /// <summary>A cheap round trip that proves the log table can be reached.</summary>
    public async Task PingAsync(CancellationToken cancellationToken)
    {
        await foreach (var _ in _table.QueryAsync<TableEntity>(e => e.PartitionKey == "~ping", maxPerPage: 1, select: ["PartitionKey"], cancellationToken: cancellationToken))
        {
            break;
        }
    }

    protected override Task WriteAsync(long firstSequence, IReadOnlyList<ReadOnlyMemory<byte>> payloads)
    {
        var actions = new List<TableTransactionAction>(payloads.Count);
        for (var i = 0; i < payloads.Count; i++)
        {
            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, ToEntity(Partition(LogId), firstSequence + i, payloads[i])));
        }
        return _table.SubmitTransactionAsync(actions);
    }

    private string OwnersPartition => $"{TableKeysPrefix(_serviceId)}_owners";

    /// <summary>Records that this log's node is alive (at <paramref name="now"/> by its own clock).</summary>
    public Task HeartbeatAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        _table.UpsertEntityAsync(new TableEntity(OwnersPartition, LogId) { ["At"] = now }, TableUpdateMode.Replace, cancellationToken);

    /// <summary>Every log with a heartbeat, and when its node last gave one.</summary>
    public async Task<List<(string LogId, DateTimeOffset At)>> OwnersAsync(CancellationToken cancellationToken)
    {
        var owners = new List<(string, DateTimeOffset)>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {OwnersPartition}");
        await foreach (var e in _table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
        {
            owners.Add((e.RowKey, e.GetDateTimeOffset("At") ?? DateTimeOffset.MinValue));
        }
        return owners;
    }

    /// <summary>Forgets a log's heartbeat once its entries have been replayed and deleted.</summary>
    public async Task RemoveOwnerAsync(string logId, CancellationToken cancellationToken)
    {
        try
        {
            await _table.DeleteEntityAsync(OwnersPartition, logId, ETag.All, cancellationToken);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
        }
    }

    /// <summary>Every entry of one log, in sequence order.</summary>
    public async IAsyncEnumerable<LogEntry> ReadLogAsync(string logId, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {Partition(logId)}");
        await foreach (var entity in _table.QueryAsync<TableEntity>(filter, maxPerPage: 100, cancellationToken: cancellationToken))
        {
            yield return FromEntity(entity, PartitionPrefix);
        }
    }

    /// <summary>Every entry of every log of this service, in (log, sequence) order.</summary>
    public async IAsyncEnumerable<LogEntry> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var prefix = PartitionPrefix;
        var end = prefix[..^1] + (char)(prefix[^1] + 1);
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {prefix} and PartitionKey lt {end}");
        await foreach (var entity in _table.QueryAsync<TableEntity>(filter, maxPerPage: 100, cancellationToken: cancellationToken))
        {
            yield return FromEntity(entity, prefix);
        }
    }

    /// <summary>Specific entries of one log (missing ones are skipped: already truncated).</summary>
    public async Task<List<LogEntry>> ReadAsync(string logId, IEnumerable<long> sequences, CancellationToken cancellationToken = default)
    {
        var result = new List<LogEntry>();
        foreach (var sequence in sequences)
        {
            var response = await _table.GetEntityIfExistsAsync<TableEntity>(Partition(logId), RowKey(sequence), cancellationToken: cancellationToken);
            if (response.HasValue && response.Value is { } entity)
            {
                result.Add(FromEntity(entity, PartitionPrefix));
            }
        }
        return result;
    }

    /// <summary>Deletes entries whose events every account has checkpointed; missing entries are fine.</summary>
    public async Task DeleteAsync(string logId, IReadOnlyCollection<long> sequences, CancellationToken cancellationToken = default)
    {
        foreach (var chunk in sequences.Order().Chunk(MaxEntitiesPerTransaction))
        {
            var actions = chunk.Select(s => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(Partition(logId), RowKey(s)) { ETag = ETag.All })).ToList();
            try
            {
                await _table.SubmitTransactionAsync(actions, cancellationToken);
            }
            catch (TableTransactionFailedException e) when (e.Status == 404)
            {
                // Some were deleted already (another node replayed and truncated them): one by one.
                foreach (var s in chunk)
                {
                    try
                    {
                        await _table.DeleteEntityAsync(Partition(logId), RowKey(s), ETag.All, cancellationToken);
                    }
                    catch (RequestFailedException inner) when (inner.Status == 404)
                    {
                    }
                }
            }
        }
    }

    private static TableEntity ToEntity(string partition, long sequence, ReadOnlyMemory<byte> payload)
    {
        var entity = new TableEntity(partition, RowKey(sequence)) { [SizeProperty] = payload.Length };
        var index = 0;
        for (var offset = 0; offset < payload.Length || index == 0; offset += 64 * 1024, index++)
        {
            entity["D" + index.ToString(CultureInfo.InvariantCulture)] = payload.Slice(offset, Math.Min(64 * 1024, payload.Length - offset)).ToArray();
        }
        return entity;
    }

    private static LogEntry FromEntity(TableEntity entity, string prefix)
    {
        var size = entity.GetInt32(SizeProperty) ?? 0;
        var buffer = new byte[size];
        var offset = 0;
        for (var index = 0; offset < size; index++)
        {
            var chunk = entity.GetBinary("D" + index.ToString(CultureInfo.InvariantCulture))
                ?? throw new InvalidDataException($"Log entry {entity.PartitionKey}/{entity.RowKey} is missing chunk {index}");
            chunk.CopyTo(buffer.AsSpan(offset));
            offset += chunk.Length;
        }
        return new LogEntry(entity.PartitionKey[prefix.Length..], long.Parse(entity.RowKey, CultureInfo.InvariantCulture), buffer);
    }

    private static string RowKey(long sequence) => sequence.ToString("D19", CultureInfo.InvariantCulture);

    private static string TableKeysPrefix(string serviceId) => Storage.TableKeys.Escape(serviceId);
}
