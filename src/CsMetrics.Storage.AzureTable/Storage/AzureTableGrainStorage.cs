using System.Diagnostics;
using Azure;
using Azure.Data.Tables;
using CsMetrics.Storage.AzureTable.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Storage;

namespace CsMetrics.Storage.AzureTable.Storage;

/// <summary>
/// Grain state in Azure Table Storage. One entity per grain and state name: PartitionKey
/// <c>{ServiceId}_{GrainId}</c>, RowKey the state name (both escaped, see <see cref="TableKeys"/>),
/// or a shared bucket partition (see <see cref="Keys"/>), in one table or spread over
/// <see cref="AzureTableStorageOptions.TableShards"/> tables by bucket;
/// the serialized state split over binary properties Data, Data1..Data14 (at most 960 KB).
/// Writes always replace the whole entity (a merge would keep stale chunks) and are conditional on
/// the ETag; a mismatch is an <see cref="InconsistentStateException"/>.
/// </summary>
public sealed partial class AzureTableGrainStorage(
    string name,
    AzureTableStorageOptions options,
    string serviceId,
    ILogger<AzureTableGrainStorage> logger,
    string configurationSection = "AzureTableStorage") : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private const string DataProperty = "Data";
    private const string SizeProperty = "StateBytes";
    private const string ShardsProperty = "TableShards";

    private readonly TableClient[] _tables = [.. Enumerable.Range(0, options.EffectiveTableShards).Select(i => CreateClient(options, TableNameOf(options, i)))];
    private readonly BucketIo[]? _buckets = options.PartitionBuckets > 0
        ? [.. Enumerable.Range(0, options.EffectiveTableShards).Select(i => new BucketIo(CreateClient(options, TableNameOf(options, i)), new PrefetchPolicy(options.PrefetchLifetime, options.PrefetchMaxAge, options.PrefetchBudgetBytes)))]
        : null;
    private readonly PackedPartitions[]? _packs = options.PartitionBuckets > 0 && options.PackedStateNames.Count > 0
        ? [.. Enumerable.Range(0, options.EffectiveTableShards).Select(i => new PackedPartitions(CreateClient(options, TableNameOf(options, i)), options.PackBytes))]
        : null;
    private readonly IReadOnlySet<string> _packed = options.PackedStateNames;
    private volatile bool _tableReady;


    public string Name => name;

    /// <summary>Bytes of grain state held by partition reads waiting for their activations.</summary>
    internal long PrefetchedBytes => _buckets?.Sum(b => b.PageBytes) ?? 0;

    /// <summary>The (first) table client, for readiness checks.</summary>
    public TableClient Table => _tables[0];

    /// <summary>Every table grain state may live in.</summary>
    public IReadOnlyList<TableClient> Tables => _tables;

    /// <summary>The name of table <paramref name="shard"/>: the configured name, then the name with 01, 02, ...</summary>
    public static string TableNameOf(AzureTableStorageOptions options, int shard) =>
        shard == 0 ? options.TableName : options.TableName + shard.ToString("D2", System.Globalization.CultureInfo.InvariantCulture);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(OptionFormattingUtilities.Name<AzureTableGrainStorage>(name), ServiceLifecycleStage.ApplicationServices, InitializeAsync);

    /// <summary>
    /// Creates the table once at silo start. If storage cannot be reached the silo still starts
    /// (readiness reports it) and the first read or write tries again.
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await EnsureTableAsync(cancellationToken);
            LogReady(logger, name, Table.Name, Table.Uri);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is not StorageLayoutException)
        {
            // Not fatal: the node starts, /readyz reports storage as unusable, the next call retries.
            LogUnreachable(logger, name, Table.Uri, (e as RequestFailedException)?.Status ?? 0, Reason(e));
        }
    }

    private async Task EnsureTableAsync(CancellationToken cancellationToken)
    {
        if (_tableReady)
        {
            return;
        }
        foreach (var table in _tables)
        {
            await table.CreateIfNotExistsAsync(cancellationToken);
        }
        await CheckLayoutAsync(cancellationToken);
        _tableReady = true;
    }

    /// <summary>
    /// The number of tables is fixed for the life of the data: the first start records it in the
    /// first table, and a start with another number stops here, naming the setting, instead of
    /// looking for grain state in the wrong tables.
    /// </summary>
    private async Task CheckLayoutAsync(CancellationToken cancellationToken)
    {
        var (pk, rk) = (TableKeys.Escape($"{serviceId}_layout"), "tables");
        var shards = _tables.Length;
        var stored = await Table.GetEntityIfExistsAsync<TableEntity>(pk, rk, cancellationToken: cancellationToken);
        if (!stored.HasValue)
        {
            // No record: a first start, or state written before the layout was recorded (one table).
            var written = shards;
            if (shards > 1 && await HasStateAsync(cancellationToken))
            {
                written = 1;
            }
            try
            {
                await Table.AddEntityAsync(new TableEntity(pk, rk) { [ShardsProperty] = written }, cancellationToken);
                stored = await Table.GetEntityIfExistsAsync<TableEntity>(pk, rk, cancellationToken: cancellationToken);
            }
            catch (RequestFailedException e) when (e.Status == 409)
            {
                stored = await Table.GetEntityIfExistsAsync<TableEntity>(pk, rk, cancellationToken: cancellationToken); // another node recorded it first
            }
        }
        var recorded = stored.HasValue ? stored.Value!.GetInt32(ShardsProperty) ?? 1 : shards;
        if (recorded != shards)
        {
            LogLayoutMismatch(logger, name, configurationSection, shards, recorded);
            throw new StorageLayoutException(
                $"{configurationSection}:TableShards: {shards}, but the grain state of service \"{serviceId}\" in table {Table.Name} was written across {recorded} table(s); " +
                $"set {configurationSection}:TableShards to {recorded} (changing it needs the state moved first)");
        }
    }

    /// <summary>Whether the first table holds any grain state of this service (one query, at start only).</summary>
    private async Task<bool> HasStateAsync(CancellationToken cancellationToken)
    {
        var prefix = TableKeys.Escape($"{serviceId}_");
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {prefix} and PartitionKey lt {prefix + "\uffff"}");
        await foreach (var _ in Table.QueryAsync<TableEntity>(filter, maxPerPage: 1, select: ["PartitionKey"], cancellationToken: cancellationToken))
        {
            return true;
        }
        return false;
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        await EnsureTableAsync(cancellationToken);
        var (pk, rk) = Keys(stateName, grainId);
        var shard = ShardOf(pk);
        TableEntity? entity = null;
        var known = false;
        if (_buckets is not null)
        {
            (known, entity) = await _buckets[shard].ReadAsync(pk, rk, cancellationToken);
        }
        if (!known && _packs is not null && _packed.Contains(stateName))
        {
            entity = await _packs[shard].ReadAsync(pk, rk, cancellationToken);
            known = entity is not null;
        }
        if (!known)
        {
            // A row: the state of a grain not packed, or of a packed grain written before packing.
            var response = await _tables[shard].GetEntityIfExistsAsync<TableEntity>(pk, rk, cancellationToken: cancellationToken);
            entity = response.HasValue ? response.Value : null;
        }
        if (entity is null)
        {
            grainState.State = CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
            return;
        }
        grainState.State = options.GrainStorageSerializer.Deserialize<T>(Join(entity));
        grainState.ETag = entity.ETag.ToString();
        grainState.RecordExists = true;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        await EnsureTableAsync(cancellationToken);
        var (pk, rk) = Keys(stateName, grainId);
        var data = options.GrainStorageSerializer.Serialize(grainState.State).ToMemory();
        if (data.Length > AzureTableStorageOptions.MaxStateBytes)
        {
            throw new StateTooLargeException(
                $"State \"{stateName}\" of grain {grainId} is {data.Length} bytes; one table entity holds at most {AzureTableStorageOptions.MaxStateBytes} bytes ({AzureTableStorageOptions.MaxDataProperties} properties of 64 KB)");
        }
        var shard = ShardOf(pk);
        if (_packs is not null && _packed.Contains(stateName))
        {
            if (data.Length > AzureTableStorageOptions.MaxStateBytes - PackedPartitions.Overhead(rk))
            {
                throw new StateTooLargeException(
                    $"State \"{stateName}\" of grain {grainId} is {data.Length} bytes; a packed state takes at most {AzureTableStorageOptions.MaxStateBytes - PackedPartitions.Overhead(rk)} bytes (one entity less its index fields)");
            }
            _buckets![shard].Invalidate(pk, rk);
            try
            {
                grainState.ETag = await _packs[shard].WriteAsync(pk, rk, grainState.ETag, data);
            }
            catch (PackConflictException e)
            {
                throw Inconsistent(e, grainId, stateName, grainState.ETag);
            }
            grainState.RecordExists = true;
            return;
        }
        var entity = Split(pk, rk, data);
        try
        {
            if (_buckets is not null)
            {
                _buckets[shard].Invalidate(pk, rk);
                grainState.ETag = await _buckets[shard].WriteAsync(entity, grainState.ETag, data.Length);
            }
            else
            {
                Response response = grainState.ETag is null
                    ? await Table.AddEntityAsync(entity, cancellationToken)
                    : await Table.UpdateEntityAsync(entity, new ETag(grainState.ETag), TableUpdateMode.Replace, cancellationToken);
                grainState.ETag = response.Headers.ETag?.ToString();
            }
            grainState.RecordExists = true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412 or 404)
        {
            _buckets?[shard].Invalidate(pk, rk);
            throw Inconsistent(e, grainId, stateName, grainState.ETag);
        }
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        await EnsureTableAsync(cancellationToken);
        var (pk, rk) = Keys(stateName, grainId);
        var shard = ShardOf(pk);
        _buckets?[shard].Invalidate(pk, rk);
        if (grainState.ETag is not null && _packs is not null && _packed.Contains(stateName))
        {
            try
            {
                await _packs[shard].ClearAsync(pk, rk, grainState.ETag);
            }
            catch (PackConflictException e)
            {
                throw Inconsistent(e, grainId, stateName, grainState.ETag);
            }
        }
        else if (grainState.ETag is not null)
        {
            try
            {
                await _tables[shard].DeleteEntityAsync(pk, rk, new ETag(grainState.ETag), cancellationToken);
            }
            catch (RequestFailedException e) when (e.Status is 412 or 404)
            {
                throw Inconsistent(e, grainId, stateName, grainState.ETag);
            }
        }
        grainState.State = CreateInstance<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    private InconsistentStateException Inconsistent(PackConflictException e, GrainId grainId, string stateName, string? etag)
    {
        LogConflict(logger, grainId, stateName, 412);
        return new InconsistentStateException(
            $"Azure Table rejected a conditional write of packed state \"{stateName}\" for grain {grainId}: {e.Message}",
            storedEtag: "unknown", currentEtag: etag ?? "(none)", e);
    }

    private InconsistentStateException Inconsistent(RequestFailedException e, GrainId grainId, string stateName, string? etag)
    {
        LogConflict(logger, grainId, stateName, e.Status);
        return new InconsistentStateException(
            $"Azure Table rejected a conditional write of \"{stateName}\" for grain {grainId} (HTTP {e.Status}): the stored version changed since it was read",
            storedEtag: "unknown", currentEtag: etag ?? "(none)", e);
    }

    /// <summary>
    /// With <see cref="AzureTableStorageOptions.PartitionBuckets"/> 0: PartitionKey <c>{ServiceId}_{GrainId}</c>, RowKey the
    /// state name (the upstream layout). Otherwise PartitionKey <c>{ServiceId}_b{bucket}</c> by a stable hash of the grain id,
    /// RowKey <c>{GrainId}%%{state name}</c> ("%%" cannot occur inside an escaped key, so the pair maps to one row only).
    /// </summary>
    internal (string PartitionKey, string RowKey) Keys(string stateName, GrainId grainId)
    {
        var id = grainId.ToString();
        if (options.PartitionBuckets <= 0)
        {
            return (TableKeys.Escape($"{serviceId}_{id}"), TableKeys.Escape(stateName));
        }
        var bucket = TableKeys.Bucket(id, options.PartitionBuckets).ToString("D4", System.Globalization.CultureInfo.InvariantCulture);
        return (TableKeys.Escape($"{serviceId}_b{bucket}"), TableKeys.Escape(id) + "%%" + TableKeys.Escape(stateName));
    }

    /// <summary>The table a partition lives in: by its bucket, whole partitions to a table.</summary>
    internal int ShardOf(string partitionKey)
    {
        if (_tables.Length == 1)
        {
            return 0;
        }
        // "{ServiceId}_b{bucket:D4}": the bucket is the number after the last "_b".
        var at = partitionKey.LastIndexOf("_b", StringComparison.Ordinal);
        return int.Parse(partitionKey.AsSpan(at + 2), System.Globalization.CultureInfo.InvariantCulture) % _tables.Length;
    }

    internal static TableEntity Split(string pk, string rk, ReadOnlyMemory<byte> data)
    {
        var entity = new TableEntity(pk, rk) { [SizeProperty] = data.Length };
        var index = 0;
        for (var offset = 0; offset < data.Length || index == 0; offset += AzureTableStorageOptions.MaxPropertyBytes, index++)
        {
            var length = Math.Min(AzureTableStorageOptions.MaxPropertyBytes, data.Length - offset);
            entity[index == 0 ? DataProperty : DataProperty + index] = data.Slice(offset, length).ToArray();
        }
        return entity;
    }

    internal static BinaryData Join(TableEntity entity)
    {
        var size = entity.GetInt32(SizeProperty) ?? 0;
        var buffer = new byte[size];
        var offset = 0;
        for (var index = 0; index < AzureTableStorageOptions.MaxDataProperties; index++)
        {
            if (entity.GetBinary(index == 0 ? DataProperty : DataProperty + index) is not { } chunk)
            {
                break;
            }
            chunk.CopyTo(buffer.AsSpan(offset));
            offset += chunk.Length;
        }
        if (offset != size)
        {
            throw new InvalidDataException($"Stored state {entity.PartitionKey}/{entity.RowKey} is damaged: {offset} bytes of data for a declared {size}");
        }
        return new BinaryData(buffer);
    }

    private static string Reason(Exception e) => e switch
    {
        AggregateException { InnerExceptions.Count: > 0 } a => Reason(a.InnerExceptions[^1]),
        RequestFailedException { InnerException: { } inner } => inner.Message,
        _ => e.Message,
    };

    private static TableClient CreateClient(AzureTableStorageOptions options, string table)
    {
        var clientOptions = new TableClientOptions();
        clientOptions.Retry.NetworkTimeout = options.RequestTimeout;
        clientOptions.Retry.MaxRetries = 2;
        return new TableServiceClient(options.ConnectionString, clientOptions).GetTableClient(table);
    }

    private static T CreateInstance<T>() => Activator.CreateInstance<T>();

    [LoggerMessage(Level = LogLevel.Information, Message = "Grain storage {Provider} ready: table {Table} at {Endpoint}")]
    private static partial void LogReady(ILogger logger, string provider, string table, Uri endpoint);

    [LoggerMessage(Level = LogLevel.Error, Message = "Grain storage {Provider} cannot reach Azure Table storage at {Endpoint} (HTTP {Status}: {Reason}); the node will not report ready until it can")]
    private static partial void LogUnreachable(ILogger logger, string provider, Uri endpoint, int status, string reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Grain storage {Provider}: {Section}:TableShards is {Configured}, but the stored state was written across {Recorded} table(s); not starting")]
    private static partial void LogLayoutMismatch(ILogger logger, string provider, string section, int configured, int recorded);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conditional write of {StateName} for {GrainId} rejected with HTTP {Status}")]
    private static partial void LogConflict(ILogger logger, GrainId grainId, string stateName, int status);
}

/// <summary>The configured table layout is not the one the stored grain state was written with.</summary>
public sealed class StorageLayoutException(string message) : InvalidOperationException(message);

/// <summary>A grain's state is larger than one table entity can hold.</summary>
public sealed class StateTooLargeException(string message) : Exception(message);
