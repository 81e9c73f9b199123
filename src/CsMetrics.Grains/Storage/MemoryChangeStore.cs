using CsMetrics.Contracts.Storage;

namespace CsMetrics.Grains.Storage;

/// <summary>
/// Records kept in this process only: what a node with <c>CsMetrics:Storage:Provider=Memory</c>
/// uses (a demo, or measuring the pipeline without storage). A restart forgets them.
/// </summary>
public class MemoryChangeStore<T> : IChangeStore<T> where T : IChangeRecord
{
    private readonly Lock _gate = new();
    private readonly SortedList<long, T> _changes = [];
    private List<T> _snapshot = [];
    private long _snapshotUpTo;

    public Task AppendAsync(IReadOnlyList<T> changes, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            foreach (var change in changes)
            {
                _changes[change.Sequence] = change;
            }
        }
        return Task.CompletedTask;
    }

    public Task<(List<T> Records, long LastSequence)> LoadAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var current = _snapshot.ToDictionary(a => a.Key, StringComparer.Ordinal);
            var last = _snapshotUpTo;
            foreach (var (sequence, change) in _changes)
            {
                if (sequence > _snapshotUpTo)
                {
                    current[change.Key] = change;
                }
                last = Math.Max(last, sequence);
            }
            return Task.FromResult((current.Values.ToList(), last));
        }
    }

    public Task<List<T>> ReadChangesAsync(long after, int limit, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_changes.Where(p => p.Key > after).Take(limit).Select(p => p.Value).ToList());
        }
    }

    public Task SnapshotAsync(IReadOnlyCollection<T> records, long upTo, long changesBefore, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _snapshot = [.. records];
            _snapshotUpTo = upTo;
            while (_changes.Count > 0 && _changes.Keys[0] < Math.Min(changesBefore, upTo + 1))
            {
                _changes.RemoveAt(0);
            }
        }
        return Task.CompletedTask;
    }
}
