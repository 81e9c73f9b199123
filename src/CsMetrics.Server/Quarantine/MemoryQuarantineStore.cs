using CsMetrics.Contracts.Quarantine;

namespace CsMetrics.Server.Quarantine;

/// <summary>The quarantine of a node with <c>CsMetrics:Storage:Provider=Memory</c>: gone at restart.</summary>
public sealed class MemoryQuarantineStore : IQuarantineStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, QuarantinedEvent> _events = new(StringComparer.Ordinal);

    public Task AddAsync(IReadOnlyList<QuarantinedEvent> events, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            foreach (var e in events)
            {
                _events[e.Key] = e;
            }
        }
        return Task.CompletedTask;
    }

    public Task<List<QuarantinedEvent>> ListAsync(string? producer, int max = int.MaxValue, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return Task.FromResult(_events.Values.Where(e => producer is null || e.Producer == producer).OrderBy(e => e.ReceivedAt).Take(max).ToList());
        }
    }

    public Task RemoveAsync(IReadOnlyList<QuarantinedEvent> events, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            foreach (var e in events)
            {
                _events.Remove(e.Key);
            }
        }
        return Task.CompletedTask;
    }
}
