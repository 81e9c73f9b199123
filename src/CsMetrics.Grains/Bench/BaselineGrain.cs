using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Bench;

namespace CsMetrics.Grains.Bench;

/// <summary>Counts events and does nothing else: see <see cref="IBaselineGrain"/>.</summary>
public sealed class BaselineGrain : Grain, IBaselineGrain
{
    private int _events;

    public Task<int> CountAsync(EventBatch batch)
    {
        _events += batch.Events.Length;
        return Task.FromResult(_events);
    }
}
