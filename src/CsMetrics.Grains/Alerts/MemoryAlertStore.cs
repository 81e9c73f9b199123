using CsMetrics.Contracts.Alerts;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// Alerts kept in this process only: what a node with <c>CsMetrics:Storage:Provider=Memory</c>
/// uses (a demo, or measuring the pipeline without storage). A restart forgets them.
/// </summary>
public sealed class MemoryAlertStore : IAlertStore
{
    private readonly Lock _gate = new();
    private readonly SortedList<long, Alert> _changes = [];
    private List<Alert> _snapshot = [];
    private long _snapshotUpTo;

    public Task AppendAsync(IReadOnlyList<Alert> changes, CancellationToken cancellationToken = default)
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

    public Task<(List<Alert> Alerts, long LastSequence)> LoadAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var current = _snapshot.ToDictionary(a => a.Id, StringComparer.Ordinal);
            var last = _snapshotUpTo;
            foreach (var (sequence, change) in _changes)
            {
                if (sequence > _snapshotUpTo)
                {
                    current[change.Id] = change;
                }
                last = Math.Max(last, sequence);
            }
            return Task.FromResult((current.Values.ToList(), last));
        }
    }

    public Task<List<Alert>> ReadChangesAsync(long after, int limit, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_changes.Where(p => p.Key > after).Take(limit).Select(p => p.Value).ToList());
        }
    }

    public Task SnapshotAsync(IReadOnlyCollection<Alert> alerts, long upTo, long changesBefore, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _snapshot = [.. alerts];
            _snapshotUpTo = upTo;
            while (_changes.Count > 0 && _changes.Keys[0] < Math.Min(changesBefore, upTo + 1))
            {
                _changes.RemoveAt(0);
            }
        }
        return Task.CompletedTask;
    }
}
