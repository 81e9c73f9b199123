using System.Collections.Concurrent;
using Azure;
using Azure.Data.Tables;

namespace CsMetrics.Storage.AzureTable.Storage;

/// <summary>
/// Batching for the bucketed layout, where many grains share one partition. Writes to a bucket
/// that arrive while a write to it is in flight go out together as one entity-group transaction
/// (each entity still conditional on its own ETag); reads of a bucket fetch the whole partition
/// once and serve the grains activating together from it. Azure Table (and Azurite even more)
/// serves one 100-entity transaction or one partition page far faster than 100 single requests.
/// A page holds a partition's packed states too (<see cref="PackedPartitions.Resolve"/>), as rows.
/// </summary>
/// <remarks>
/// A page serves each of its rows once, to the activation that asks first; a local write makes
/// the row stale and it is read from storage again. A page lives while activations keep using it
/// (<see cref="PrefetchPolicy.IdleLifetime"/> since the last use), never longer than
/// <see cref="PrefetchPolicy.MaxAge"/> (a row changed by another node in that window fails its
/// next conditional write, as any stale read would), and is dropped when every row was served.
/// Pages together hold at most <see cref="PrefetchPolicy.BudgetBytes"/> of entity data; past that,
/// activations read their own row. Without the sliding lifetime, an activation wave spread over
/// every partition (a restart under load) let pages expire before their rows were asked for and
/// read each partition again and again.
/// </remarks>
internal sealed class BucketIo(TableClient table, PrefetchPolicy policy)
{
    private const int MaxEntitiesPerTransaction = 100;
    private const int MaxBytesPerTransaction = 3_000_000;

    private readonly ConcurrentDictionary<string, GroupingQueue<PendingWrite>> _writers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<Page>>> _pages = new(StringComparer.Ordinal);
    private long _pageBytes;

    /// <summary>What a read found: the entity, or that it does not exist, or that the page cannot tell.</summary>
    internal readonly record struct Lookup(bool Known, TableEntity? Entity);

    /// <summary>Bytes of entity data the live pages hold now (for tests and diagnostics).</summary>
    public long PageBytes => Interlocked.Read(ref _pageBytes);

    public async Task<Lookup> ReadAsync(string partition, string row, CancellationToken cancellationToken)
    {
        if (policy.IdleLifetime <= TimeSpan.Zero)
        {
            return new Lookup(false, null);
        }
        if (!_pages.TryGetValue(partition, out var lazy))
        {
            if (Interlocked.Read(ref _pageBytes) >= policy.BudgetBytes && SweepExpired() == 0)
            {
                return new Lookup(false, null); // over budget: this activation reads its own row
            }
            lazy = _pages.GetOrAdd(partition, p => new Lazy<Task<Page>>(() => LoadAsync(p, cancellationToken)));
        }
        Page page;
        try
        {
            page = await lazy.Value;
        }
        catch
        {
            _pages.TryRemove(KeyValuePair.Create(partition, lazy));
            throw;
        }
        var now = Environment.TickCount64;
        if (page.Expired(now, policy))
        {
            Drop(partition, lazy, page);
            return new Lookup(false, null);
        }
        page.Touch(now);
        if (!page.Entities.TryGetValue(row, out var entity))
        {
            return new Lookup(true, null); // the whole partition was read: it does not exist
        }
        if (entity is null || !page.Entities.TryUpdate(row, null, entity))
        {
            return new Lookup(false, null); // served already, or made stale by a write
        }
        Consumed(partition, lazy, page, entity);
        return new Lookup(true, entity);
    }

    /// <summary>A write or delete made the page's copy of this row stale.</summary>
    public void Invalidate(string partition, string row)
    {
        if (_pages.TryGetValue(partition, out var lazy) && lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully)
        {
            var page = lazy.Value.Result;
            if (page.Entities.TryAdd(row, null))
            {
                return; // a row the page did not have: from now on it is read from storage
            }
            if (page.Entities.TryGetValue(row, out var entity) && entity is not null && page.Entities.TryUpdate(row, null, entity))
            {
                Consumed(partition, lazy, page, entity);
            }
        }
    }

    private void Consumed(string partition, Lazy<Task<Page>> lazy, Page page, TableEntity entity)
    {
        var bytes = Size(entity);
        Interlocked.Add(ref page.Bytes, -bytes);
        Interlocked.Add(ref _pageBytes, -bytes);
        if (Interlocked.Decrement(ref page.Remaining) == 0)
        {
            _pages.TryRemove(KeyValuePair.Create(partition, lazy));
        }
    }

    private void Drop(string partition, Lazy<Task<Page>> lazy, Page page)
    {
        if (_pages.TryRemove(KeyValuePair.Create(partition, lazy)))
        {
            Interlocked.Add(ref _pageBytes, -Interlocked.Exchange(ref page.Bytes, 0));
        }
    }

    /// <summary>Drops pages past their lifetime; returns how many.</summary>
    private int SweepExpired()
    {
        var now = Environment.TickCount64;
        var dropped = 0;
        foreach (var (partition, lazy) in _pages)
        {
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully && lazy.Value.Result.Expired(now, policy))
            {
                Drop(partition, lazy, lazy.Value.Result);
                dropped++;
            }
        }
        return dropped;
    }

    private async Task<Page> LoadAsync(string partition, CancellationToken cancellationToken)
    {
        var entities = new ConcurrentDictionary<string, TableEntity?>(StringComparer.Ordinal);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition}");
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, maxPerPage: 1000, cancellationToken: cancellationToken))
        {
            entities[entity.RowKey] = entity;
        }
        PackedPartitions.Resolve(entities);
        long bytes = 0;
        foreach (var entity in entities.Values)
        {
            bytes += entity is null ? 0 : Size(entity);
        }
        var page = new Page(entities, bytes, Environment.TickCount64);
        Interlocked.Add(ref _pageBytes, bytes);
        return page;
    }

    private static long Size(TableEntity entity)
    {
        long bytes = 0;
        foreach (var (_, value) in (IDictionary<string, object>)entity)
        {
            bytes += value switch
            {
                byte[] b => b.Length,
                BinaryData d => d.ToMemory().Length,
                string s => s.Length * 2,
                _ => 8,
            };
        }
        return bytes;
    }

    private sealed class Page(ConcurrentDictionary<string, TableEntity?> entities, long bytes, long loadedAt)
    {
        public long Bytes = bytes;
        public int Remaining = entities.Values.Count(e => e is not null);
        private readonly long _loadedAt = loadedAt;
        private long _lastUsed = loadedAt;

        public ConcurrentDictionary<string, TableEntity?> Entities { get; } = entities;

        public void Touch(long now) => Volatile.Write(ref _lastUsed, now);

        public bool Expired(long now, PrefetchPolicy policy) =>
            now - Volatile.Read(ref _lastUsed) > policy.IdleLifetime.TotalMilliseconds
            || now - _loadedAt > policy.MaxAge.TotalMilliseconds;
    }

    /// <summary>Queues a conditional write (insert when <paramref name="etag"/> is null) and returns the new ETag.</summary>
    public Task<string?> WriteAsync(TableEntity entity, string? etag, int bytes)
    {
        var pending = new PendingWrite(entity, etag, bytes, new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously));
        _writers.GetOrAdd(entity.PartitionKey, _ => new GroupingQueue<PendingWrite>(TakeTransaction, SubmitAsync)).Enqueue(pending);
        return pending.Done.Task;
    }

    private sealed record PendingWrite(TableEntity Entity, string? ETag, int Bytes, TaskCompletionSource<string?> Done);

    /// <summary>One action per row in a transaction (a second write of a row waits for the next one), at most 100 entities and 3 MB.</summary>
    private static List<PendingWrite> TakeTransaction(List<PendingWrite> queue)
    {
        var group = new List<PendingWrite>();
        var bytes = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < queue.Count && group.Count < MaxEntitiesPerTransaction; i++)
        {
            var w = queue[i];
            if ((group.Count > 0 && bytes + w.Bytes > MaxBytesPerTransaction) || !seen.Add(w.Entity.RowKey))
            {
                continue;
            }
            group.Add(w);
            bytes += w.Bytes;
        }
        return group;
    }

    private async Task SubmitAsync(List<PendingWrite> group)
    {
        if (group.Count == 1)
        {
            await SubmitOneAsync(group[0]);
            return;
        }
        try
        {
            var actions = group.Select(w =>
            {
                if (w.ETag is null)
                {
                    return new TableTransactionAction(TableTransactionActionType.Add, w.Entity);
                }
                w.Entity.ETag = new ETag(w.ETag);
                return new TableTransactionAction(TableTransactionActionType.UpdateReplace, w.Entity, w.Entity.ETag);
            }).ToList();
            var response = await table.SubmitTransactionAsync(actions);
            for (var i = 0; i < group.Count; i++)
            {
                group[i].Done.TrySetResult(response.Value[i].Headers.ETag?.ToString());
            }
        }
        catch (TableTransactionFailedException)
        {
            // One conditional write failed and took the transaction with it: find out which, one by one.
            foreach (var w in group)
            {
                await SubmitOneAsync(w);
            }
        }
        catch (Exception e)
        {
            foreach (var w in group)
            {
                w.Done.TrySetException(e);
            }
        }
    }

    private async Task SubmitOneAsync(PendingWrite w)
    {
        try
        {
            Response response = w.ETag is null
                ? await table.AddEntityAsync(w.Entity)
                : await table.UpdateEntityAsync(w.Entity, new ETag(w.ETag), TableUpdateMode.Replace);
            w.Done.TrySetResult(response.Headers.ETag?.ToString());
        }
        catch (Exception e)
        {
            w.Done.TrySetException(e);
        }
    }
}

/// <summary>How partition pages read at activation are kept; see <see cref="BucketIo"/>.</summary>
internal readonly record struct PrefetchPolicy(TimeSpan IdleLifetime, TimeSpan MaxAge, long BudgetBytes);
