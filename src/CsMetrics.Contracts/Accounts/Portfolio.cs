using System.Text.Json.Serialization;
using CsMetrics.Contracts.Storage;
using Orleans.Concurrency;

namespace CsMetrics.Contracts.Accounts;

/// <summary>
/// One shard of the portfolio index (keys 0 to <see cref="PortfolioShards.Count"/> - 1): what the
/// at-risk list and the portfolio summary read, so neither scans account grains. Accounts report
/// changes of their score, band and profile through their silo's portfolio outbox, batched; a shard
/// persists each batch before it is visible.
/// </summary>
[Alias("csm.IPortfolioShardGrain")]
public interface IPortfolioShardGrain : IGrainWithIntegerKey
{
    /// <summary>Records the accounts' latest entries (later ones win); durable when it returns.</summary>
    [Alias("UpdateAsync")]
    Task UpdateAsync(PortfolioEntry[] entries);

    /// <summary>This shard's first <see cref="AccountListQuery.Limit"/> matching entries after the cursor, in the query's order, and how many match in all.</summary>
    [Alias("ListAsync"), ReadOnly, AlwaysInterleave]
    Task<PortfolioPage> ListAsync(AccountListQuery query);

    /// <summary>Counts and MRR per band, and band movements since <c>now - window</c> for each window.</summary>
    [Alias("SummarizeAsync"), ReadOnly, AlwaysInterleave]
    Task<PortfolioSummary> SummarizeAsync(DateTimeOffset now, TimeSpan[] windows);
}

public static class PortfolioShards
{
    /// <summary>Shards of the index: 1,000,000 accounts make about 62,500 entries each.</summary>
    public const int Count = 16;

    public static int For(string account) => (int)(StableHash.Of(account) % Count);

    /// <summary>Asks every shard at once and merges: the first <see cref="AccountListQuery.Limit"/> entries in the query's order, and how many match in all.</summary>
    public static async Task<PortfolioPage> ListAsync(IGrainFactory grains, AccountListQuery query)
    {
        var pages = await Task.WhenAll(Enumerable.Range(0, Count).Select(i => grains.GetGrain<IPortfolioShardGrain>(i).ListAsync(query)));
        var merged = pages.SelectMany(p => p.Entries).ToList();
        merged.Sort(AccountOrder.Comparison(query.Sort));
        return new PortfolioPage([.. merged.Take(query.Limit)], pages.Sum(p => p.Total));
    }

    /// <summary>Every shard's summary, added up.</summary>
    public static async Task<PortfolioSummary> SummarizeAsync(IGrainFactory grains, DateTimeOffset now, TimeSpan[] windows)
    {
        var parts = await Task.WhenAll(Enumerable.Range(0, Count).Select(i => grains.GetGrain<IPortfolioShardGrain>(i).SummarizeAsync(now, windows)));
        var total = new PortfolioSummary();
        foreach (var part in parts)
        {
            total.Add(part);
        }
        return total;
    }
}

/// <summary>What the index knows of one account: enough to filter, sort and sum without asking it.</summary>
[GenerateSerializer, Immutable, Alias("csm.PortfolioEntry")]
public sealed record PortfolioEntry(
    [property: Id(0)] string Account,
    [property: Id(1)] long Sequence,
    [property: Id(2)] string? Name,
    [property: Id(3)] string? Segment,
    [property: Id(4)] string? Owner,
    [property: Id(5)] double? Score,
    [property: Id(6)] string? Band,
    [property: Id(7)] double? Mrr,
    [property: Id(8)] DateTimeOffset UpdatedAt,
    [property: Id(9)] BandMove[] Moves) : IChangeRecord
{
    string IChangeRecord.Key => Account;

    /// <summary>
    /// The band the account had at <paramref name="at"/>: the band a move after it left, else the
    /// current one (null: no score yet). <see cref="Moves"/> holds the moves of the last
    /// <see cref="PortfolioEntry.MoveHorizon"/>, oldest first.
    /// </summary>
    public string? BandAt(DateTimeOffset at)
    {
        foreach (var move in Moves)
        {
            if (move.At > at)
            {
                return move.From;
            }
        }
        return Band;
    }

    /// <summary>How far back an entry keeps its band moves (the longest portfolio window).</summary>
    public static readonly TimeSpan MoveHorizon = TimeSpan.FromDays(8);

    /// <summary>At most this many moves are kept (an account flapping more often than that is counted from the oldest kept).</summary>
    public const int MaxMoves = 16;
}

/// <summary>An account's band change: from null when it got its first score.</summary>
[GenerateSerializer, Immutable, Alias("csm.BandMove")]
public sealed record BandMove([property: Id(0)] DateTimeOffset At, [property: Id(1)] string? From, [property: Id(2)] string To);

/// <summary>The filters and order of GET /v1/accounts (null filters mean any).</summary>
[GenerateSerializer, Immutable, Alias("csm.AccountListQuery")]
public sealed record AccountListQuery(
    [property: Id(0)] string[]? Bands,
    [property: Id(1)] string? Segment,
    [property: Id(2)] string? Owner,
    [property: Id(3)] string? Search,
    [property: Id(4)] string Sort,
    [property: Id(5)] int Limit,
    [property: Id(6)] AccountCursor? After);

/// <summary>Where a page ended: the last entry's sort value and account.</summary>
[GenerateSerializer, Immutable, Alias("csm.AccountCursor")]
public sealed record AccountCursor([property: Id(0)] double? Value, [property: Id(1)] string Account);

[GenerateSerializer, Immutable, Alias("csm.PortfolioPage")]
public sealed record PortfolioPage([property: Id(0)] PortfolioEntry[] Entries, [property: Id(1)] int Total);

/// <summary>Per band (and "none" for accounts without a score yet): accounts and their MRR.</summary>
[GenerateSerializer, Alias("csm.BandTotals")]
public sealed class BandTotals
{
    [Id(0)] public int Accounts { get; set; }
    [Id(1)] public double Mrr { get; set; }
}

/// <summary>Accounts (and their MRR) that were in one band at the start of a window and are in another now.</summary>
[GenerateSerializer, Alias("csm.BandTransition")]
public sealed class BandTransition
{
    [Id(0)] public required string From { get; init; }
    [Id(1)] public required string To { get; init; }
    [Id(2)] public int Accounts { get; set; }
    [Id(3)] public double Mrr { get; set; }
}

/// <summary>One shard's part of GET /v1/portfolio; shards' parts add up.</summary>
[GenerateSerializer, Alias("csm.PortfolioSummary")]
public sealed class PortfolioSummary
{
    [Id(0)] public Dictionary<string, BandTotals> Bands { get; init; } = new(StringComparer.Ordinal);

    /// <summary>Per window (same order as asked), the transitions between bands.</summary>
    [Id(1)] public List<List<BandTransition>> Movements { get; init; } = [];

    public void Add(PortfolioSummary other)
    {
        foreach (var (band, totals) in other.Bands)
        {
            var mine = Bands.TryGetValue(band, out var t) ? t : Bands[band] = new BandTotals();
            mine.Accounts += totals.Accounts;
            mine.Mrr += totals.Mrr;
        }
        for (var w = 0; w < other.Movements.Count; w++)
        {
            while (Movements.Count <= w)
            {
                Movements.Add([]);
            }
            foreach (var move in other.Movements[w])
            {
                var mine = Movements[w].Find(m => m.From == move.From && m.To == move.To);
                if (mine is null)
                {
                    Movements[w].Add(mine = new BandTransition { From = move.From, To = move.To });
                }
                mine.Accounts += move.Accounts;
                mine.Mrr += move.Mrr;
            }
        }
    }
}

/// <summary>The orders GET /v1/accounts offers: <c>score</c> (lowest first, the default: most at risk first), <c>-score</c>, <c>mrr</c>, <c>-mrr</c>, <c>account</c>, <c>-account</c>, <c>updated</c>, <c>-updated</c>.</summary>
public static class AccountOrder
{
    public const string Default = "score";

    public static IReadOnlyList<string> All { get; } = ["score", "-score", "mrr", "-mrr", "account", "-account", "updated", "-updated"];

    /// <summary>The value an entry sorts by (null sorts last either way); <c>account</c> sorts by the id alone.</summary>
    public static double? Value(PortfolioEntry entry, string sort) => sort.TrimStart('-') switch
    {
        "score" => entry.Score,
        "mrr" => entry.Mrr,
        "updated" => entry.UpdatedAt.UtcTicks,
        _ => 0,
    };

    public static AccountCursor CursorOf(PortfolioEntry entry, string sort) => new(Value(entry, sort), entry.Account);

    /// <summary>A total order: the sort value (nulls last), then the account id (ordinal), both reversed by a leading '-'.</summary>
    public static int Compare(AccountCursor a, AccountCursor b, string sort)
    {
        var descending = sort.StartsWith('-');
        if (a.Value is null != b.Value is null)
        {
            return a.Value is null ? 1 : -1;
        }
        var byValue = a.Value is { } x && b.Value is { } y ? x.CompareTo(y) : 0;
        if (byValue != 0)
        {
            return descending ? -byValue : byValue;
        }
        var byAccount = string.CompareOrdinal(a.Account, b.Account);
        return descending ? -byAccount : byAccount;
    }

    public static Comparison<PortfolioEntry> Comparison(string sort) => (a, b) => Compare(CursorOf(a, sort), CursorOf(b, sort), sort);
}

/// <summary>The stored form of portfolio entries (JSON, tolerant of added fields).</summary>
[JsonSourceGenerationOptions(System.Text.Json.JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<PortfolioEntry>))]
public sealed partial class PortfolioJsonContext : JsonSerializerContext;

/// <summary>Where each portfolio shard keeps its entries.</summary>
public interface IPortfolioStores
{
    IChangeStore<PortfolioEntry> Shard(int shard);
}
