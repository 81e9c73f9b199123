namespace CsMetrics.Storage.AzureTable.Storage;

/// <summary>
/// Writes to one partition, queued from any grain and handled one group at a time by a single
/// loop off the callers' schedulers: what queues while a group is out goes in the next group.
/// <paramref name="take"/> picks the next group (and removes it from the queue, under the queue's
/// lock); <paramref name="handle"/> completes every item of it, and never throws.
/// </summary>
internal sealed class GroupingQueue<T>(Func<List<T>, List<T>> take, Func<List<T>, Task> handle) where T : class
{
    private readonly Lock _gate = new();
    private readonly List<T> _queue = [];
    private bool _running;

    public void Enqueue(T item)
    {
        lock (_gate)
        {
            _queue.Add(item);
            if (_running)
            {
                return;
            }
            _running = true;
        }
        // Off the caller's (grain's) scheduler: the loop serves every grain of the partition.
        _ = Task.Run(RunAsync);
    }

    private async Task RunAsync()
    {
        while (true)
        {
            List<T> group;
            lock (_gate)
            {
                if (_queue.Count == 0)
                {
                    _running = false;
                    return;
                }
                group = take(_queue);
                foreach (var item in group)
                {
                    _queue.Remove(item);
                }
            }
            await handle(group);
        }
    }
}
