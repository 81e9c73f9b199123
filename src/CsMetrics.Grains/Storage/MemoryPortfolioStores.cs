using System.Collections.Concurrent;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Storage;

namespace CsMetrics.Grains.Storage;

/// <summary>Portfolio shards kept in this process only (the <c>Memory</c> storage provider); a restart forgets them.</summary>
public sealed class MemoryPortfolioStores : IPortfolioStores
{
    private readonly ConcurrentDictionary<int, MemoryChangeStore<PortfolioEntry>> _shards = new();

    public IChangeStore<PortfolioEntry> Shard(int shard) => _shards.GetOrAdd(shard, _ => new MemoryChangeStore<PortfolioEntry>());
}
