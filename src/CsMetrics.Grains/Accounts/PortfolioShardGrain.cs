using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Storage;
using Microsoft.Extensions.Logging;

namespace CsMetrics.Grains.Accounts;

/// <summary>
/// One shard of the portfolio index (see <see cref="IPortfolioShardGrain"/>): the latest entry of
/// each of its accounts in memory, every batch appended to its <see cref="IChangeStore{T}"/> before
/// it is applied, and a snapshot of all entries once the changes since the last one outnumber the
/// entries (so a restart reads at most about twice the entries). Queries run on the shard's
/// activation, interleaved with nothing that changes it mid-way (updates are not interleaved).
/// </summary>
public sealed partial class PortfolioShardGrain(IPortfolioStores stores, ILogger<PortfolioShardGrain> logger) : Grain, IPortfolioShardGrain
{
    private const int MinSnapshotEvery = 10_000;

    private readonly Dictionary<string, PortfolioEntry> _entries = new(StringComparer.Ordinal);
    private IChangeStore<PortfolioEntry> _store = null!;
    private long _sequence;
    private long _snapshotAt;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var shard = (int)this.GetPrimaryKeyLong();
        _store = stores.Shard(shard);
        var (entries, last) = await _store.LoadAsync(cancellationToken);
        foreach (var entry in entries)
        {
            _entries[entry.Account] = entry;
        }
        _sequence = last;
        _snapshotAt = last;
        LogLoaded(logger, shard, _entries.Count, last);
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_sequence > _snapshotAt)
        {
            await SnapshotAsync(cancellationToken);
        }
    }

    public async Task UpdateAsync(PortfolioEntry[] entries)
    {
        // An entry older than the one held is dropped: after an account moved to another silo, the
        // old silo's outbox may deliver last what the account reported before it moved.
        var newer = entries.Where(e => !_entries.TryGetValue(e.Account, out var held) || held.UpdatedAt <= e.UpdatedAt).ToArray();
        if (newer.Length == 0)
        {
            return;
        }
        var numbered = new PortfolioEntry[newer.Length];
        for (var i = 0; i < newer.Length; i++)
        {
            numbered[i] = newer[i] with { Sequence = _sequence + i + 1 };
        }
        await _store.AppendAsync(numbered);
        _sequence += numbered.Length;
        foreach (var entry in numbered)
        {
            _entries[entry.Account] = entry;
        }
        if (_sequence - _snapshotAt >= Math.Max(MinSnapshotEvery, _entries.Count))
        {
            await SnapshotAsync(CancellationToken.None);
        }
    }

    public Task<PortfolioPage> ListAsync(AccountListQuery query)
    {
        var search = string.IsNullOrWhiteSpace(query.Search) ? null : query.Search.Trim();
        var matches = new List<PortfolioEntry>();
        var total = 0;
        foreach (var entry in _entries.Values)
        {
            if (!Matches(entry, query, search))
            {
                continue;
            }
            total++;
            if (query.After is null || AccountOrder.Compare(AccountOrder.CursorOf(entry, query.Sort), query.After, query.Sort) > 0)
            {
                matches.Add(entry);
            }
        }
        var comparison = AccountOrder.Comparison(query.Sort);
        var page = matches.Order(Comparer<PortfolioEntry>.Create(comparison)).Take(query.Limit).ToArray();
        return Task.FromResult(new PortfolioPage(page, total));
    }

    public Task<PortfolioSummary> SummarizeAsync(DateTimeOffset now, TimeSpan[] windows)
    {
        var summary = new PortfolioSummary();
        var starts = windows.Select(w => now - w).ToArray();
        var moves = windows.Select(_ => new Dictionary<(string, string), BandTransition>()).ToArray();
        foreach (var entry in _entries.Values)
        {
            var band = entry.Band ?? "none";
            var totals = summary.Bands.TryGetValue(band, out var t) ? t : summary.Bands[band] = new BandTotals();
            totals.Accounts++;
            totals.Mrr += entry.Mrr ?? 0;
            if (entry.Moves.Length == 0 || entry.Moves[^1].At <= starts.Min())
            {
                continue; // not moved within any window
            }
            for (var w = 0; w < starts.Length; w++)
            {
                var then = entry.BandAt(starts[w]) ?? "none";
                if (then == band)
                {
                    continue;
                }
                var key = (then, band);
                if (!moves[w].TryGetValue(key, out var transition))
                {
                    moves[w][key] = transition = new BandTransition { From = then, To = band };
                }
                transition.Accounts++;
                transition.Mrr += entry.Mrr ?? 0;
            }
        }
        summary.Movements.AddRange(moves.Select(m => m.Values.ToList()));
        return Task.FromResult(summary);
    }

    private static bool Matches(PortfolioEntry entry, AccountListQuery query, string? search) =>
        (query.Bands is null || query.Bands.Contains(entry.Band ?? "none", StringComparer.Ordinal))
        && (query.Segment is null || string.Equals(entry.Segment, query.Segment, StringComparison.OrdinalIgnoreCase))
        && (query.Owner is null || string.Equals(entry.Owner, query.Owner, StringComparison.OrdinalIgnoreCase))
        && (search is null
            || entry.Account.Contains(search, StringComparison.OrdinalIgnoreCase)
            || entry.Name?.Contains(search, StringComparison.OrdinalIgnoreCase) == true);

    private async Task SnapshotAsync(CancellationToken cancellationToken)
    {
        var upTo = _sequence;
        try
        {
            await _store.SnapshotAsync([.. _entries.Values], upTo, upTo + 1, cancellationToken);
            _snapshotAt = upTo;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The changes are all in the log still; the next batch tries again.
            LogSnapshotFailed(logger, (int)this.GetPrimaryKeyLong(), upTo, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Portfolio shard {Shard} loaded {Entries} accounts up to change {Sequence}")]
    private static partial void LogLoaded(ILogger logger, int shard, int entries, long sequence);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Portfolio shard {Shard} could not snapshot up to change {Sequence}")]
    private static partial void LogSnapshotFailed(ILogger logger, int shard, long sequence, Exception exception);
}
