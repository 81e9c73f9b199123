using CsMetrics.Testing;
using System.Globalization;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.State;
using FsCheck;
using FsCheck.Fluent;
using static CsMetrics.Testing.Events;

namespace CsMetrics.Scoring.Tests.Engine;

/// <summary>Properties of the score that must hold for every history, not just the examples.</summary>
public class ScoringProperties
{
    /// <summary>A compact description of one event, so FsCheck can generate and shrink histories.</summary>
    public sealed record Spec(int Kind, int DaysAgo, int Hour, int Value, int Ticket);

    private static readonly string[] Features = ["reports", "dashboards", "alerts", "integrations", "exports", "automation", "api", "collaboration", "other"];

    private static readonly Gen<Spec> SpecGen =
        from kind in Gen.Choose(0, 12)
        from days in Gen.Choose(0, 40)
        from hour in Gen.Choose(1, 23)
        from value in Gen.Choose(0, 10)
        from ticket in Gen.Choose(0, 5)
        select new Spec(kind, days, hour, value, ticket);

    private static readonly Arbitrary<Spec[]> Histories = SpecGen.ArrayOf().ToArbitrary();

    private static HealthEvent ToEvent(Spec s, string id)
    {
        var at = Now.AddDays(-s.DaysAgo).AddHours(-s.Hour);
        var v = s.Value.ToString(CultureInfo.InvariantCulture);
        var ticket = $"T-{s.Ticket}";
        return s.Kind switch
        {
            0 => Make(EventTypes.Login, at, id: id),
            1 => Make(EventTypes.FeatureUsed, at, P("feature", Features[s.Value % Features.Length]), id: id),
            2 => Make(EventTypes.WorkflowCompleted, at, P("workflow", "w"), id: id),
            3 => Make(EventTypes.TicketOpened, at, new() { ["ticket"] = ticket, ["priority"] = s.Value > 7 ? "urgent" : "normal" }, id: id),
            4 => Make(EventTypes.TicketResolved, at, P("ticket", ticket), id: id),
            5 => Make(EventTypes.TicketEscalated, at, P("ticket", ticket), id: id),
            6 => Make(EventTypes.NpsResponse, at, P("score", v), id: id),
            7 => Make(EventTypes.CsatResponse, at, P("score", (1 + s.Value % 5).ToString(CultureInfo.InvariantCulture)), id: id),
            8 => Make(EventTypes.MilestoneAchieved, at, P("milestone", $"m-{v}"), id: id),
            9 => Make(EventTypes.PaymentFailed, at, id: id, actor: Actor.System),
            10 => Make(EventTypes.PaymentRecovered, at, id: id, actor: Actor.System),
            11 => Make(EventTypes.SubscriptionChanged, at, P("mrr", (100 * s.Value).ToString(CultureInfo.InvariantCulture)), id: id),
            _ => Make(EventTypes.Login, at, id: id, actor: Actor.Bot),
        };
    }

    private static List<HealthEvent> ToEvents(IEnumerable<Spec> specs, string prefix = "e") =>
        specs.Select((s, i) => ToEvent(s, $"{prefix}-{i}")).ToList();

    private static AccountState Apply(IReadOnlyList<HealthEvent> events, DateTimeOffset? now = null)
    {
        var state = new AccountState();
        AccountEngine.Apply(state, events, Models.Replay, now ?? Now);
        return state;
    }

    private static double? ScoreOf(AccountState state, DateTimeOffset? at = null) => HealthScorer.Score(state, Models.Replay, at ?? Now).Score;

    [Fact]
    public void Score_IsAlwaysWithin0And100() =>
        Prop.ForAll(Histories, Gen.Choose(0, 90).ToArbitrary(), (specs, later) =>
        {
            var card = HealthScorer.Score(Apply(ToEvents(specs)), Models.Replay, Now.AddDays(later));
            return (card.Score is null or >= 0 and <= 100)
                && card.Components.All(c => c.Score is null or >= 0 and <= 100)
                && card.Components.SelectMany(c => c.Metrics).All(m => m.Score is null or >= 0 and <= 100);
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void Weights_RenormaliseOverComponentsWithData() =>
        Prop.ForAll(Histories, specs =>
        {
            var card = HealthScorer.Score(Apply(ToEvents(specs)), Models.Replay, Now);
            if (card.Score is null)
            {
                return card.Components.All(c => c.NoData && c.Share == 0);
            }
            var shares = card.Components.Sum(c => c.Share);
            var total = card.Components.Sum(c => c.Contribution);
            return Math.Abs(shares - 1) < 1e-9
                && Math.Abs(total - card.Score.Value) <= 0.1
                && card.Components.Where(c => c.NoData).All(c => c.Share == 0);
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void MoreEscalations_NeverRaiseTheScore() =>
        Prop.ForAll(Histories, SpecGen.ToArbitrary(), (specs, extra) =>
        {
            // Support has data (a ticket exists), so the escalation cannot turn "no data" into data.
            List<HealthEvent> events = [.. ToEvents(specs), TicketOpened(Now.AddDays(-3), "T-0")];
            var before = ScoreOf(Apply(events));
            var escalation = Make(EventTypes.TicketEscalated, Now.AddDays(-extra.DaysAgo % 30).AddHours(-extra.Hour), P("ticket", $"T-{extra.Ticket}"), id: "extra-escalation");
            var after = ScoreOf(Apply([.. events, escalation]));
            return (after <= before).Label($"{before} -> {after}");
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void MoreActiveDays_NeverLowerTheScore() =>
        Prop.ForAll(Histories, Gen.Choose(0, 27).ToArbitrary(), Gen.Choose(1, 23).ToArbitrary(), (specs, day, hour) =>
        {
            // The account's start is known (its subscription), so usage has a fixed yardstick.
            List<HealthEvent> events = [.. ToEvents(specs), SubscriptionStarted(Now.AddDays(-45), 500), Login(Now.AddDays(-1), id: "base-login")];
            var before = ScoreOf(Apply(events));
            var after = ScoreOf(Apply([.. events, Login(Now.AddDays(-day).AddHours(-hour), id: "extra-login")]));
            return (after >= before).Label($"{before} -> {after}");
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void EventOrder_WithinTheWindow_DoesNotChangeTheScore() =>
        Prop.ForAll(Histories, Gen.Choose(0, int.MaxValue).ToArbitrary(), Gen.Choose(1, 8).ToArbitrary(), (specs, seed, batches) =>
        {
            var events = ToEvents(specs);
            var shuffled = events.OrderBy(_ => new Random(seed).Next()).ToList();
            var rng = new Random(seed);
            shuffled = [.. shuffled.OrderBy(_ => rng.Next())];
            var inOrder = Apply(events);
            var state = new AccountState();
            foreach (var chunk in shuffled.Chunk(Math.Max(1, shuffled.Count / batches)))
            {
                AccountEngine.Apply(state, chunk, Models.Replay, Now);
            }
            return (ScoreOf(inOrder) == ScoreOf(state)).Label($"{ScoreOf(inOrder)} vs {ScoreOf(state)}")
                .And(inOrder.EventCount == state.EventCount);
        }).QuickCheckThrowOnFailure();

    [Fact]
    public void ReplayedDuplicates_ChangeNothing() =>
        Prop.ForAll(Histories, Gen.Choose(0, int.MaxValue).ToArbitrary(), (specs, seed) =>
        {
            var events = ToEvents(specs);
            var state = Apply(events);
            var before = AccountStateSerializer.Serialize(state);
            var rng = new Random(seed);
            var replay = events.Where(_ => rng.Next(2) == 0).ToList();
            var result = AccountEngine.Apply(state, replay, Models.Replay, Now);
            return before.AsSpan().SequenceEqual(AccountStateSerializer.Serialize(state))
                && result.Applied == 0
                && result.Duplicates == replay.Count
                && result.Change is null;
        }).QuickCheckThrowOnFailure();
}
