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
/// </summary>
internal sealed class BucketIo(TableClient table, TimeSpan pageLifetime)
{
    private const int MaxEntitiesPerTransaction = 100;
    private const int MaxBytesPerTransaction = 3_000_000;

    private readonly ConcurrentDictionary<string, Writer> _writers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<Task<Page>>> _pages = new(StringComparer.Ordinal);

    /// <summary>What a read found: the entity, or that it does not exist, or that the page cannot tell.</summary>
    internal readonly record struct Lookup(bool Known, TableEntity? Entity);

    public async Task<Lookup> ReadAsync(string partition, string row, CancellationToken cancellationToken)
    {
        var lazy = _pages.GetOrAdd(partition, p => new Lazy<Task<Page>>(() => LoadAsync(p, cancellationToken)));
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
        if (Environment.TickCount64 - page.LoadedAt > pageLifetime.TotalMilliseconds)
        {
            _pages.TryRemove(KeyValuePair.Create(partition, lazy));
            return new Lookup(false, null);
        }
        if (!page.Entities.TryGetValue(row, out var entity))
        {
            return new Lookup(true, null); // the whole partition was read: it does not exist
        }
        // Each entry serves one activation; after that (or after a write) reads go to storage.
        page.Entities[row] = null;
        return entity is null ? new Lookup(false, null) : new Lookup(true, entity);
    }

    /// <summary>A write or delete made the page's copy of this row stale.</summary>
    public void Invalidate(string partition, string row)
    {
        if (_pages.TryGetValue(partition, out var lazy) && lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully)
        {
            lazy.Value.Result.Entities[row] = null;
        }
    }

    private async Task<Page> LoadAsync(string partition, CancellationToken cancellationToken)
    {
        var page = new Page(Environment.TickCount64);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition}");
        await foreach (var entity in table.QueryAsync<TableEntity>(filter, maxPerPage: 1000, cancellationToken: cancellationToken))
        {
            page.Entities[entity.RowKey] = entity;
        }
        return page;
    }

    /// <summary>Queues a conditional write (insert when <paramref name="etag"/> is null) and returns the new ETag.</summary>
    public Task<string?> WriteAsync(TableEntity entity, string? etag, int bytes)
    {
        var pending = new PendingWrite(entity, etag, bytes, new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously));
        _writers.GetOrAdd(entity.PartitionKey, _ => new Writer(this)).Enqueue(pending);
        return pending.Done.Task;
    }

    private sealed record PendingWrite(TableEntity Entity, string? ETag, int Bytes, TaskCompletionSource<string?> Done);

    private sealed class Page(long loadedAt)
    {
        public long LoadedAt { get; } = loadedAt;
        public ConcurrentDictionary<string, TableEntity?> Entities { get; } = new(StringComparer.Ordinal);
    }

    private sealed class Writer(BucketIo io)
    {
        private readonly Lock _gate = new();
        private readonly List<PendingWrite> _queue = [];
        private bool _running;

        public void Enqueue(PendingWrite write)
        {
            lock (_gate)
            {
                _queue.Add(write);
                if (_running)
                {
                    return;
                }
                _running = true;
            }
            // Off the caller's (grain's) scheduler: the loop serves every grain of this bucket.
            _ = Task.Run(RunAsync);
        }

        private async Task RunAsync()
        {
            while (true)
            {
                List<PendingWrite> group;
                lock (_gate)
                {
                    if (_queue.Count == 0)
                    {
                        _running = false;
                        return;
                    }
                    group = [];
                    var bytes = 0;
                    var seen = new HashSet<string>(StringComparer.Ordinal);
                    for (var i = 0; i < _queue.Count && group.Count < MaxEntitiesPerTransaction; i++)
                    {
                        var w = _queue[i];
                        // One action per row in a transaction; a second write of a row waits for the next one.
                        if ((group.Count > 0 && bytes + w.Bytes > MaxBytesPerTransaction) || !seen.Add(w.Entity.RowKey))
                        {
                            continue;
                        }
                        group.Add(w);
                        bytes += w.Bytes;
                    }
                    foreach (var w in group)
                    {
                        _queue.Remove(w);
                    }
                }
                await io.SubmitAsync(group);
            }
        }
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
