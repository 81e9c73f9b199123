using CsMetrics.Contracts.Accounts;
using CsMetrics.Scoring.Events;
using CsMetrics.Grains.Accounts;
using CsMetrics.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CsMetrics.Grains.Tests.Accounts;

/// <summary>
/// The portfolio index kept by account grains through the silo's outbox: the list filters, sorts
/// and pages across shards, and the summary counts bands, MRR and movements between bands over the
/// last day and week, on the fake clock. Each test uses a segment of its own (the cluster is shared).
/// </summary>
[Collection(ClusterTests.Name)]
public class PortfolioTests(ClusterFixture fixture)
{
    private static readonly TimeSpan[] Windows = [TimeSpan.FromDays(1), TimeSpan.FromDays(7)];

    private DateTimeOffset Now => fixture.Time.GetUtcNow();

    private Task Send(string account, IEnumerable<HealthEvent> events) =>
        fixture.Grains.GetGrain<IAccountGrain>(account).IngestAsync(new EventBatch([.. events.Select(e => e with { Account = account })]));

    private HealthEvent Profile(string segment, string owner, string name) =>
        Events.Make(EventTypes.AccountUpdated, Now.AddDays(-200), new() { ["segment"] = segment, ["csmOwner"] = owner, ["name"] = name }, user: null, actor: Actor.System);

    private async Task<List<PortfolioEntry>> ListAsync(AccountListQuery query) => [.. (await PortfolioShards.ListAsync(fixture.Grains, query)).Entries];

    /// <summary>Waits (the outbox sends every 250 ms) until the segment's entries satisfy <paramref name="done"/>.</summary>
    private async Task<List<PortfolioEntry>> WaitForAsync(string segment, Func<List<PortfolioEntry>, bool> done)
    {
        List<PortfolioEntry> entries = [];
        for (var i = 0; i < 200; i++)
        {
            entries = await ListAsync(new AccountListQuery(null, segment, null, null, "account", 1000, null));
            if (done(entries))
            {
                return entries;
            }
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
        Assert.Fail($"the portfolio index never showed what was expected for {segment}: {string.Join(", ", entries.Select(e => $"{e.Account}={e.Band}"))}");
        return entries;
    }

    [Fact]
    public async Task TheIndex_FollowsEveryAccountsScoreBandAndProfile_AndFiltersSortsAndPages()
    {
        var segment = $"seg-{Guid.NewGuid():N}";
        var accounts = Enumerable.Range(0, 12).Select(i => $"{segment}-{i:D2}").ToArray();
        for (var i = 0; i < accounts.Length; i++)
        {
            var events = i % 3 == 0 ? Events.ChurningAccount(Now) : Events.HealthyMonth(Now);
            await Send(accounts[i], [Profile(segment, i % 2 == 0 ? "cs-east" : "cs-west", $"Customer {i}"), .. events]);
        }
        var entries = await WaitForAsync(segment, e => e.Count == accounts.Length);

        // Every entry says what the account itself says.
        foreach (var entry in entries)
        {
            var view = await fixture.Grains.GetGrain<IAccountGrain>(entry.Account).GetAsync();
            Assert.Equal(view!.Band, entry.Band);
            Assert.Equal(Math.Round(view.Score!.Value, 1), entry.Score);
            Assert.Equal(view.Profile!.CsmOwner, entry.Owner);
            Assert.Equal(view.Profile.Mrr, entry.Mrr);
        }
        Assert.Equal(4, entries.Count(e => e.Band == "red"));
        Assert.Equal(8, entries.Count(e => e.Band == "green"));

        // Filters: band and owner, case-insensitive owner; search by name.
        var redEast = await ListAsync(new AccountListQuery(["red"], segment, "CS-EAST", null, "score", 100, null));
        Assert.Equal(accounts.Where((_, i) => i % 3 == 0 && i % 2 == 0), redEast.Select(e => e.Account).Order());
        var named = await ListAsync(new AccountListQuery(null, segment, null, "customer 11", "score", 100, null));
        Assert.Equal(accounts[11], Assert.Single(named).Account);

        // Sorted by score, lowest first; pages of 5 by cursor cover every account once, in order.
        var paged = new List<PortfolioEntry>();
        AccountCursor? cursor = null;
        while (true)
        {
            var page = await ListAsync(new AccountListQuery(null, segment, null, null, "score", 5, cursor));
            paged.AddRange(page);
            if (page.Count < 5)
            {
                break;
            }
            cursor = AccountOrder.CursorOf(page[^1], "score");
        }
        Assert.Equal(accounts.Order(), paged.Select(e => e.Account).Order());
        Assert.Equal(paged.Select(e => e.Score), paged.Select(e => e.Score).Order());
        var descending = await ListAsync(new AccountListQuery(null, segment, null, null, "-score", 3, null));
        Assert.Equal(paged.Select(e => e.Score).OrderDescending().Take(3), descending.Select(e => e.Score));
    }

    [Fact]
    public async Task TheSummary_CountsBandsAndMrr_AndBandMovesWithinTheLastDayAndWeek()
    {
        var segment = $"seg-{Guid.NewGuid():N}";
        var stays = $"{segment}-stays";
        var slides = $"{segment}-slides";
        await Send(stays, [Profile(segment, "cs", "Stays"), .. Events.HealthyMonth(Now)]);
        await Send(slides, [Profile(segment, "cs", "Slides"), .. Events.HealthyMonth(Now)]);
        await WaitForAsync(segment, e => e.Count == 2 && e.All(x => x.Band == "green"));

        await AdvanceAsync(TimeSpan.FromDays(2));
        var now = Now;
        await Send(slides, [
            Events.TicketOpened(now.AddHours(-6), "T-1", "urgent"), Events.TicketEscalated(now.AddHours(-5), "T-1"),
            Events.TicketOpened(now.AddHours(-4), "T-2", "urgent"), Events.TicketEscalated(now.AddHours(-3), "T-2"),
            Events.Nps(now.AddHours(-2), 0), Events.PaymentFailed(now.AddHours(-1))]);
        var slid = await WaitForAsync(segment, e => e.Single(x => x.Account == slides).Band != "green");
        var entry = slid.Single(x => x.Account == slides);
        var newBand = entry.Band!;
        Assert.Equal([null, "green"], entry.Moves.Select(m => m.From));
        Assert.Equal("green", entry.BandAt(now.AddDays(-1)));
        Assert.Null(entry.BandAt(now.AddDays(-7)));

        // Band totals are the entries' own bands and MRR (the whole index, all shards).
        var (summary, all) = await ConsistentReadAsync();
        foreach (var band in new[] { "green", "yellow", "red" })
        {
            var inBand = all.Where(e => e.Band == band).ToList();
            Assert.Equal(inBand.Count, summary.Bands.GetValueOrDefault(band)?.Accounts ?? 0);
            Assert.Equal(inBand.Sum(e => e.Mrr ?? 0), summary.Bands.GetValueOrDefault(band)?.Mrr ?? 0, 3);
        }
        // Within the day it moved green -> its new band; within the week it was new (none -> its band).
        var dayMoves = Moves(summary, 0, "green", newBand);
        Assert.True(dayMoves >= 1);
        Assert.True(Moves(summary, 1, "none", newBand) >= 1);
        Assert.Equal(0, Moves(summary, 0, "green", "green"));

        // Two days on, the move has left the last day.
        await AdvanceAsync(TimeSpan.FromDays(2));
        var later = await SummarizeAsync();
        Assert.True(Moves(later, 0, "green", newBand) < dayMoves, "the move should have left the last day");
        Assert.True(Moves(later, 1, "none", newBand) >= 1);
    }

    /// <summary>Moves the fake clock once no portfolio round is in flight (a round must not straddle a jump of the clock the silo runs on).</summary>
    private async Task AdvanceAsync(TimeSpan by)
    {
        await fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<PortfolioOutbox>().DeliveredAsync();
        fixture.Time.Advance(by);
    }

    private static int Moves(PortfolioSummary summary, int window, string from, string to) =>
        summary.Movements[window].Where(m => m.From == from && m.To == to).Sum(m => m.Accounts);

    /// <summary>The summary and every entry, read again if an account changed between the two reads.</summary>
    private async Task<(PortfolioSummary, List<PortfolioEntry>)> ConsistentReadAsync()
    {
        for (var attempt = 0; ; attempt++)
        {
            var all = await ListAsync(new AccountListQuery(null, null, null, null, "account", 1_000_000, null));
            var summary = await SummarizeAsync();
            var again = await ListAsync(new AccountListQuery(null, null, null, null, "account", 1_000_000, null));
            if (attempt == 5 || all.Select(e => e.Sequence).SequenceEqual(again.Select(e => e.Sequence)))
            {
                return (summary, all);
            }
        }
    }

    [Fact]
    public async Task AnOlderEntry_ArrivingLast_DoesNotReplaceANewerOne()
    {
        var segment = $"seg-{Guid.NewGuid():N}";
        var account = $"{segment}-moved";
        var shard = fixture.Grains.GetGrain<IPortfolioShardGrain>(PortfolioShards.For(account));
        var newer = new PortfolioEntry(account, 0, "Moved", segment, "cs", 41.5, "red", 100, Now, []);
        var older = newer with { Score = 88.0, Band = "green", UpdatedAt = Now.AddSeconds(-5) };
        await shard.UpdateAsync([newer]);
        await shard.UpdateAsync([older]); // what the silo it left sent before it moved, delivered last

        var held = Assert.Single(await ListAsync(new AccountListQuery(null, segment, null, null, "account", 10, null)));
        Assert.Equal(("red", 41.5), (held.Band, held.Score));
        await shard.UpdateAsync([newer with { Score = 39.0, UpdatedAt = Now.AddSeconds(1) }]);
        Assert.Equal(39.0, Assert.Single(await ListAsync(new AccountListQuery(null, segment, null, null, "account", 10, null))).Score);
    }

    private Task<PortfolioSummary> SummarizeAsync() => PortfolioShards.SummarizeAsync(fixture.Grains, Now, Windows);
}
