using System.Collections.Concurrent;
using System.Globalization;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Storage;

namespace CsMetrics.Storage.AzureTable.ChangeLog;

/// <summary>Each portfolio shard's entries in Azure Table Storage: partitions <c>{ServiceId}_portfolio{NN}log</c> and <c>…snap…</c>.</summary>
public sealed class AzureTablePortfolioStores(string connectionString, string tableName, string serviceId, TimeSpan requestTimeout) : IPortfolioStores
{
    private readonly ConcurrentDictionary<int, AzureTableChangeStore<PortfolioEntry>> _shards = new();

    public IChangeStore<PortfolioEntry> Shard(int shard) => _shards.GetOrAdd(shard, s => new AzureTableChangeStore<PortfolioEntry>(
        connectionString, tableName, serviceId, "portfolio" + s.ToString("D2", CultureInfo.InvariantCulture), PortfolioJsonContext.Default.ListPortfolioEntry, requestTimeout));
}
