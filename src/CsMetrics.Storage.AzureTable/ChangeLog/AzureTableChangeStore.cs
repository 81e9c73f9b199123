using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using System.Text.Json.Serialization.Metadata;
using CsMetrics.Contracts.Storage;
using CsMetrics.Storage.AzureTable.Hosting;
using CsMetrics.Storage.AzureTable.Storage;

namespace CsMetrics.Storage.AzureTable.ChangeLog;

/// <summary>
/// Keyed records in Azure Table Storage, log-structured (see <see cref="IChangeStore{T}"/>). Each
/// append is one entity (more only past about 700 KB compressed) holding the batch of changes as
/// Brotli-compressed JSON, in partition <c>{ServiceId}_{name}log</c> with RowKey the batch's last
/// sequence number, so "changes after N" is one range query. A snapshot holds every record's
/// current form, in compressed chunks under a partition of its own
/// (<c>{ServiceId}_{name}snap_{sequence}_{guid}</c>), made current by one pointer entity written
/// last; then older snapshots and the changes it covers (beyond the retention) are deleted. A
/// restart reads the snapshot and the changes after it. Thousands of changes cost one write, not
/// thousands: on Azurite, one entity per alert change made the alert store the bottleneck of ingest.
/// </summary>
public class AzureTableChangeStore<T> : IChangeStore<T> where T : IChangeRecord
{
    // Azurite refused single upserts of pieces from about 830 KB up as larger than 1 MB (it seems to
    // count binary as base64 there, though it stores the grain storage's 960 KB states); 700 KB fits.
    private const int MaxChunkBytes = 700 * 1024;
    private const string FirstProperty = "First";
    private const string UpToProperty = "UpTo";
    private const string ChunksProperty = "Chunks";
    private const string PartitionProperty = "Partition";

    private readonly TableClient _table;
    private readonly string _prefix;
    private readonly JsonTypeInfo<List<T>> _json;
    private readonly JsonTypeInfo<T> _item;
    private volatile bool _ready;

    /// <param name="name">The store's name within the service: its partitions start with it (letters and digits).</param>
    /// <param name="json">The stored form of a batch of records.</param>
    public AzureTableChangeStore(string connectionString, string tableName, string serviceId, string name, JsonTypeInfo<List<T>> json, TimeSpan requestTimeout)
    {
        var clientOptions = new TableClientOptions();
        clientOptions.Retry.NetworkTimeout = requestTimeout;
        _table = new TableServiceClient(connectionString, clientOptions).GetTableClient(tableName);
        _prefix = $"{TableKeys.Escape(serviceId)}_{name}";
        _json = json;
        _item = (JsonTypeInfo<T>)json.Options.GetTypeInfo(typeof(T));
    }

    private string LogPartition => $"{_prefix}log";

    private string PointerPartition => $"{_prefix}snap";

    /// <summary>A partition of its own for every snapshot, even of the same sequence: a rewrite never mixes with an earlier one.</summary>
    private string SnapshotPartition(long upTo) => $"{_prefix}snap_{Row(upTo)}_{Guid.NewGuid():N}";

    private static string Row(long sequence) => sequence.ToString("D19", CultureInfo.InvariantCulture);

    private async Task EnsureTableAsync(CancellationToken cancellationToken)
    {
        if (!_ready)
        {
            await _table.CreateIfNotExistsAsync(cancellationToken);
            _ready = true;
        }
    }

    public async Task AppendAsync(IReadOnlyList<T> changes, CancellationToken cancellationToken = default)
    {
        if (changes.Count == 0)
        {
            return;
        }
        await EnsureTableAsync(cancellationToken);
        foreach (var (chunk, bytes) in Pieces(changes))
        {
            var entity = AzureTableGrainStorage.Split(LogPartition, Row(chunk[^1].Sequence), bytes);
            entity[FirstProperty] = chunk[0].Sequence;
            await _table.UpsertEntityAsync(entity, TableUpdateMode.Replace, cancellationToken);
        }
    }

    public async Task<(List<T> Records, long LastSequence)> LoadAsync(CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        var current = new Dictionary<string, T>(StringComparer.Ordinal);
        long upTo = 0;
        var pointer = await _table.GetEntityIfExistsAsync<TableEntity>(PointerPartition, "latest", cancellationToken: cancellationToken);
        if (pointer.HasValue)
        {
            upTo = pointer.Value!.GetInt64(UpToProperty) ?? 0;
            var chunks = 0;
            var filter = TableClient.CreateQueryFilter($"PartitionKey eq {pointer.Value.GetString(PartitionProperty)}");
            await foreach (var entity in _table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken))
            {
                foreach (var record in Decode(entity))
                {
                    current[record.Key] = record;
                }
                chunks++;
            }
            var expected = pointer.Value.GetInt32(ChunksProperty) ?? 0;
            if (chunks != expected)
            {
                throw new InvalidDataException($"snapshot {PointerPartition} {upTo} has {chunks} of its {expected} chunks");
            }
        }
        var last = upTo;
        foreach (var change in await ReadChangesAsync(upTo, int.MaxValue, cancellationToken))
        {
            current[change.Key] = change;
            last = change.Sequence;
        }
        return ([.. current.Values], last);
    }

    public async Task<List<T>> ReadChangesAsync(long after, int limit, CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        var result = new List<T>();
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {LogPartition} and RowKey gt {Row(after)}");
        await foreach (var entity in _table.QueryAsync<TableEntity>(filter, maxPerPage: 16, cancellationToken: cancellationToken))
        {
            foreach (var change in Decode(entity))
            {
                if (change.Sequence > after)
                {
                    result.Add(change);
                    if (result.Count >= limit)
                    {
                        return result;
                    }
                }
            }
        }
        return result;
    }

    public async Task SnapshotAsync(IReadOnlyCollection<T> records, long upTo, long changesBefore, CancellationToken cancellationToken = default)
    {
        await EnsureTableAsync(cancellationToken);
        var partition = SnapshotPartition(upTo);
        // The records are copied in this turn; each piece is encoded just before it is written, so a
        // grain taking a snapshot of 100,000 records answers its interleaving calls between pieces
        // instead of after the whole encoding (about a second).
        var index = 0;
        foreach (var (_, bytes) in Pieces([.. records.OrderBy(a => a.Sequence)]))
        {
            await _table.UpsertEntityAsync(AzureTableGrainStorage.Split(partition, index++.ToString("D6", CultureInfo.InvariantCulture), bytes), TableUpdateMode.Replace, cancellationToken);
        }
        // The pointer last: until it is written, a restart reads the previous snapshot.
        await _table.UpsertEntityAsync(new TableEntity(PointerPartition, "latest")
        {
            [UpToProperty] = upTo,
            [ChunksProperty] = index,
            [PartitionProperty] = partition,
        }, TableUpdateMode.Replace, cancellationToken);

        // Other snapshots (older ones, or one left half-written by a crash), and changes both
        // covered by this one and past the retention.
        var others = TableClient.CreateQueryFilter($"PartitionKey gt {PointerPartition + "_"} and PartitionKey lt {PointerPartition + "`"} and PartitionKey ne {partition}");
        await DeleteAsync(others, cancellationToken);
        var cut = Math.Min(changesBefore, upTo + 1);
        var covered = TableClient.CreateQueryFilter($"PartitionKey eq {LogPartition} and RowKey lt {Row(cut)}");
        await DeleteAsync(covered, cancellationToken);
    }

    /// <summary>
    /// Deletes what the filter finds, 100 rows of a partition per entity-group transaction (a
    /// snapshot can leave thousands of small log rows behind); a transaction that fails because a
    /// row is already gone is done row by row.
    /// </summary>
    private async Task DeleteAsync(string filter, CancellationToken cancellationToken)
    {
        var doomed = new List<TableEntity>();
        await foreach (var entity in _table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken))
        {
            doomed.Add(entity);
        }
        foreach (var chunk in doomed.GroupBy(e => e.PartitionKey).SelectMany(p => p.Chunk(100)))
        {
            try
            {
                await _table.SubmitTransactionAsync(chunk.Select(e => new TableTransactionAction(TableTransactionActionType.Delete, e, ETag.All)), cancellationToken);
            }
            catch (TableTransactionFailedException)
            {
                foreach (var entity in chunk)
                {
                    try
                    {
                        await _table.DeleteEntityAsync(entity.PartitionKey, entity.RowKey, ETag.All, cancellationToken);
                    }
                    catch (RequestFailedException e) when (e.Status == 404)
                    {
                    }
                }
            }
        }
    }

    /// <summary>
    /// Compressed JSON of the records in order, cut into pieces that each fit one entity. Records are
    /// written one at a time and a piece is cut once its JSON reaches the size that, at the ratio the
    /// pieces before it compressed by, comes to about 90 % of an entity (the first piece: an entity's
    /// size uncompressed, which always fits); a piece that still comes out too large is halved. So
    /// each record is encoded about once, and no buffer grows past a few MB. (The whole set used to be
    /// encoded first and halved until each half fitted: an alert store's snapshot of 100,000 alerts
    /// encoded everything six or seven times, through buffers doubling to 134 MB on the large-object
    /// heap, every few seconds under load.)
    /// </summary>
    private IEnumerable<(List<T> Records, byte[] Bytes)> Pieces(IReadOnlyList<T> records)
    {
        var plainTarget = MaxChunkBytes;
        var start = 0;
        while (start < records.Count)
        {
            // Encoded in full before it is handed out: the per-thread buffer is never held across a
            // yield (the caller awaits a write there, and may resume on another thread).
            List<(List<T>, byte[])> done = [];
            var plain = PlainBuffer();
            var end = start;
            try
            {
                using (var writer = new Utf8JsonWriter(plain))
                {
                    writer.WriteStartArray();
                    while (end < records.Count && (end == start || writer.BytesCommitted + writer.BytesPending < plainTarget))
                    {
                        JsonSerializer.Serialize(writer, records[end], _item);
                        end++;
                    }
                    writer.WriteEndArray();
                }
                var bytes = Compress(plain.WrittenSpan);
                var ratio = (double)plain.WrittenCount / Math.Max(1, bytes.Length);
                var piece = new List<T>(end - start);
                for (var i = start; i < end; i++)
                {
                    piece.Add(records[i]);
                }
                if (bytes.Length > MaxChunkBytes && piece.Count > 1)
                {
                    done.AddRange(Halve(piece));
                }
                else
                {
                    done.Add(Checked(piece, bytes));
                }
                plainTarget = (int)Math.Clamp(MaxChunkBytes * 0.9 * ratio, MaxChunkBytes / 2, MaxPlainTarget);
            }
            finally
            {
                ReleasePlainBuffer(plain);
            }
            start = end;
            foreach (var piece in done)
            {
                yield return piece;
            }
        }
    }

    private static (List<T>, byte[]) Checked(List<T> piece, byte[] bytes) =>
        bytes.Length > AzureTableStorageOptions.MaxStateBytes
            ? throw new InvalidDataException($"record {piece[0].Key} alone is {bytes.Length} bytes compressed; an entity holds {AzureTableStorageOptions.MaxStateBytes}")
            : (piece, bytes);

    /// <summary>The records split in halves until each half's compressed JSON fits one entity (for a piece that did not).</summary>
    private List<(List<T> Records, byte[] Bytes)> Halve(List<T> records)
    {
        var pending = new Stack<List<T>>();
        pending.Push([.. records]);
        var done = new List<(List<T>, byte[])>();
        while (pending.Count > 0)
        {
            var list = pending.Pop();
            var bytes = Encode(list);
            if (bytes.Length <= MaxChunkBytes || list.Count == 1)
            {
                done.Add(Checked(list, bytes));
                continue;
            }
            var half = list.Count / 2;
            pending.Push(list[half..]);
            pending.Push(list[..half]);
        }
        return done;
    }

    /// <summary>The records' compressed JSON, as one piece.</summary>
    private byte[] Encode(List<T> records)
    {
        var plain = PlainBuffer();
        try
        {
            using (var writer = new Utf8JsonWriter(plain))
            {
                JsonSerializer.Serialize(writer, records, _json);
            }
            return Compress(plain.WrittenSpan);
        }
        finally
        {
            ReleasePlainBuffer(plain);
        }
    }

    /// <summary>
    /// Brotli (quality 1, as <see cref="CompressionLevel.Fastest"/>) in one call into a pooled buffer:
    /// only the result is allocated.
    /// </summary>
    private static byte[] Compress(ReadOnlySpan<byte> plain)
    {
        var compressed = System.Buffers.ArrayPool<byte>.Shared.Rent(BrotliEncoder.GetMaxCompressedLength(plain.Length));
        try
        {
            if (!BrotliEncoder.TryCompress(plain, compressed, out var written, quality: 1, window: 22))
            {
                throw new InvalidOperationException("Brotli could not compress a change batch into its maximum compressed size");
            }
            return compressed.AsSpan(0, written).ToArray();
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(compressed);
        }
    }

    /// <summary>The JSON is written into a buffer kept per thread (a stream per batch grew its buffers by doubling).</summary>
    private static System.Buffers.ArrayBufferWriter<byte> PlainBuffer()
    {
        var plain = t_plain ??= new System.Buffers.ArrayBufferWriter<byte>(64 * 1024);
        plain.ResetWrittenCount();
        return plain;
    }

    private static void ReleasePlainBuffer(System.Buffers.ArrayBufferWriter<byte> plain)
    {
        if (plain.Capacity > MaxKeptPlainBytes)
        {
            t_plain = null; // an unusually large piece: do not keep its buffer
        }
    }

    [ThreadStatic]
    private static System.Buffers.ArrayBufferWriter<byte>? t_plain;

    /// <summary>The most JSON put in one piece (3.5 MB: a ratio of 5 to 700 KB, which JSON of alerts and portfolio entries reaches).</summary>
    private const int MaxPlainTarget = 3584 * 1024;

    private const int MaxKeptPlainBytes = 4 << 20;

    private List<T> Decode(TableEntity entity)
    {
        using var input = AzureTableGrainStorage.Join(entity).ToStream();
        using var brotli = new BrotliStream(input, CompressionMode.Decompress);
        return JsonSerializer.Deserialize(brotli, _json)
            ?? throw new InvalidDataException($"batch {entity.PartitionKey}/{entity.RowKey} decoded to null");
    }
}
