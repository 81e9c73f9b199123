using CsMetrics.Contracts.Alerts;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// Alerts kept in this process only: what a node with <c>CsMetrics:Storage:Provider=Memory</c>
/// uses (a demo, or measuring the pipeline without storage). A restart forgets them.
/// </summary>
public sealed class MemoryAlertStore : IAlertStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Alert> _current = new(StringComparer.Ordinal);
    private readonly SortedDictionary<long, Alert> _changes = [];

    public Task SaveAsync(IReadOnlyList<Alert> changes, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            foreach (var change in changes)
            {
                _changes[change.Sequence] = change;
                if (!_current.TryGetValue(change.Id, out var current) || current.Sequence < change.Sequence)
                {
                    _current[change.Id] = change;
                }
            }
        }
        return Task.CompletedTask;
    }

    public Task<(List<Alert> Alerts, long LastSequence)> LoadAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var last = _changes.Count == 0 ? 0 : _changes.Keys.Max();
            return Task.FromResult((_current.Values.ToList(), Math.Max(last, _current.Values.Select(a => a.Sequence).DefaultIfEmpty(0).Max())));
        }
    }

    public Task<List<Alert>> ReadChangesAsync(long after, int limit, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_changes.Where(p => p.Key > after).Take(limit).Select(p => p.Value).ToList());
        }
    }

    public Task PruneAsync(IReadOnlyList<string> alertIds, long changesBefore, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            foreach (var id in alertIds)
            {
                _current.Remove(id);
            }
            foreach (var key in _changes.Keys.TakeWhile(k => k < changesBefore).ToList())
            {
                _changes.Remove(key);
            }
        }
        return Task.CompletedTask;
    }
}
