using CsMetrics.Contracts.Accounts;
using CsMetrics.Grains.Accounts;
using CsMetrics.Scoring.State;

namespace CsMetrics.Grains.Tests.Accounts;

/// <summary>
/// The band moves an account hands the portfolio index with each entry: the recent ones, oldest
/// first, capped; and the same array as last time while they did not change, so an entry that moves
/// only the score allocates no moves.
/// </summary>
public class RecentMovesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static BandChange Change(int day, Band? from, Band to) => new(T0.AddDays(day), from is null ? null : 50, 40, from, to, "cause");

    [Fact]
    public void TheMovesSinceTheHorizon_OldestFirst_AndTheSameArrayWhileNothingMoved()
    {
        List<BandChange> changes = [Change(0, null, Band.Green), Change(3, Band.Green, Band.Yellow), Change(9, Band.Yellow, Band.Red)];

        var first = AccountGrain.RecentMoves(changes, T0.AddDays(2), []);
        Assert.Equal([new BandMove(T0.AddDays(3), "green", "yellow"), new BandMove(T0.AddDays(9), "yellow", "red")], first);

        // Nothing moved: the array reported last time, not a copy of it.
        Assert.Same(first, AccountGrain.RecentMoves(changes, T0.AddDays(2), first));

        // A new move, or an old one passing the horizon, makes a new array.
        changes.Add(Change(10, Band.Red, Band.Yellow));
        var moved = AccountGrain.RecentMoves(changes, T0.AddDays(2), first);
        Assert.NotSame(first, moved);
        Assert.Equal(new BandMove(T0.AddDays(10), "red", "yellow"), moved[^1]);
        var aged = AccountGrain.RecentMoves(changes, T0.AddDays(4), moved);
        Assert.Equal([T0.AddDays(9), T0.AddDays(10)], aged.Select(m => m.At));

        // Moves with the same instants but other bands are not the same moves.
        List<BandChange> other = [Change(0, null, Band.Green), Change(3, Band.Green, Band.Red), Change(9, Band.Red, Band.Yellow)];
        Assert.NotSame(first, AccountGrain.RecentMoves(other, T0.AddDays(2), first));
        Assert.Equal("red", AccountGrain.RecentMoves(other, T0.AddDays(2), first)[0].To);
    }

    [Fact]
    public void NoMoveWithinTheHorizon_IsTheEmptyArray_AndTheCapKeepsTheNewest()
    {
        Assert.Empty(AccountGrain.RecentMoves(null, T0, []));
        Assert.Empty(AccountGrain.RecentMoves([Change(0, null, Band.Green)], T0.AddDays(1), []));

        var many = Enumerable.Range(0, PortfolioEntry.MaxMoves + 5).Select(d => Change(d, d % 2 == 0 ? Band.Green : Band.Yellow, d % 2 == 0 ? Band.Yellow : Band.Green)).ToList();
        var moves = AccountGrain.RecentMoves(many, T0, []);
        Assert.Equal(PortfolioEntry.MaxMoves, moves.Length);
        Assert.Equal(T0.AddDays(5), moves[0].At);
        Assert.Equal(T0.AddDays(PortfolioEntry.MaxMoves + 4), moves[^1].At);
        Assert.Same(moves, AccountGrain.RecentMoves(many, T0, moves));
    }
}
