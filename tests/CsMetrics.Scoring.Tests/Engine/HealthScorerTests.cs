using CsMetrics.Testing;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;
using static CsMetrics.Testing.Events;

namespace CsMetrics.Scoring.Tests.Engine;

public class HealthScorerTests
{
    private static readonly ScoringModel Model = Models.Replay;

    private static AccountState StateOf(IEnumerable<HealthEvent> events, DateTimeOffset? now = null)
    {
        var state = new AccountState();
        AccountEngine.Apply(state, [.. events], Model, now ?? Now);
        return state;
    }

    [Fact]
    public void Score_NoEvents_IsNoDataNotAGuess()
    {
        var card = HealthScorer.Score(new AccountState(), Model, Now);
        Assert.Null(card.Score);
        Assert.Null(card.PlainBand);
        Assert.All(card.Components, c => Assert.True(c.NoData));
    }

    [Fact]
    public void Score_HealthyAccount_IsGreen()
    {
        var card = HealthScorer.Score(StateOf(HealthyMonth(Now)), Model, Now);
        Assert.True(card.Score >= 80, $"score {card.Score}");
        Assert.Equal(Band.Green, card.PlainBand);
        Assert.All(card.Components, c => Assert.False(c.NoData));
    }

    [Fact]
    public void Score_ChurningAccount_IsRed()
    {
        var card = HealthScorer.Score(StateOf(ChurningAccount(Now)), Model, Now);
        Assert.True(card.Score < 60, $"score {card.Score}");
        Assert.Equal(Band.Red, card.PlainBand);
        Assert.Equal(0, card[Component.Usage].Score);
        Assert.Equal(0, card[Component.Billing].Metrics.Single(m => m.Name == "payments").Score);
        Assert.Equal(0, card[Component.Support].Metrics.Single(m => m.Name == "escalations").Score);
    }

    [Fact]
    public void Score_OnlyUsage_SpreadsTheWholeWeightOverUsage()
    {
        var state = StateOf([Login(Now.AddDays(-1)), Login(Now.AddDays(-3))]);
        var card = HealthScorer.Score(state, Model, Now);
        Assert.Equal(1.0, card[Component.Usage].Share, 6);
        Assert.Equal(card[Component.Usage].Score, card.Score);
        Assert.True(card[Component.Sentiment].NoData);
        Assert.Equal(0, card[Component.Sentiment].Share);
    }

    [Fact]
    public void Score_LaterWithNoNewUsage_IsLower()
    {
        var state = StateOf(HealthyMonth(Now));
        var today = HealthScorer.Score(state, Model, Now).Score!.Value;
        var inTwoWeeks = HealthScorer.Score(state, Model, Now.AddDays(14)).Score!.Value;
        var inSixWeeks = HealthScorer.Score(state, Model, Now.AddDays(42)).Score!.Value;
        Assert.True(inTwoWeeks < today, $"{inTwoWeeks} !< {today}");
        Assert.True(inSixWeeks < inTwoWeeks, $"{inSixWeeks} !< {inTwoWeeks}");
        Assert.Equal(0, HealthScorer.Score(state, Model, Now.AddDays(42))[Component.Usage].Score);
    }

    [Fact]
    public void Score_BotAndSystemUsage_NeverCountsAsUsage()
    {
        var human = StateOf([Login(Now.AddDays(-1))]);
        var withBots = StateOf([Login(Now.AddDays(-1)), .. Enumerable.Range(2, 20).Select(d => Login(Now.AddDays(-d), actor: d % 2 == 0 ? Actor.Bot : Actor.System))]);
        Assert.Equal(HealthScorer.Score(human, Model, Now).Score, HealthScorer.Score(withBots, Model, Now).Score);
        Assert.Equal(1, withBots.Usage.HumanEvents);
        Assert.Equal(20, withBots.NonHumanEventCount);
        Assert.False(StateOf([Login(Now, actor: Actor.Bot)]).Usage.HasData);
    }

    [Fact]
    public void Score_ResolutionArrivingBeforeTheOpening_ClosesTheTicket()
    {
        var state = StateOf([TicketResolved(Now.AddHours(-1), "T-9"), TicketOpened(Now.AddHours(-5), "T-9")]);
        var support = HealthScorer.Score(state, Model, Now)[Component.Support];
        Assert.Equal(0, support.Metrics.Single(m => m.Name == "openTickets").Value);
        Assert.Equal(4, support.Metrics.Single(m => m.Name == "resolutionTime").Value);
    }

    [Fact]
    public void Score_RecoveredPayment_ClearsTheOutstandingFailure()
    {
        var failed = StateOf([PaymentFailed(Now.AddDays(-2))]);
        var recovered = StateOf([PaymentFailed(Now.AddDays(-2)), PaymentRecovered(Now.AddDays(-1))]);
        Assert.Equal(0, Payments(failed));
        Assert.True(Payments(recovered) > 0);

        static double? Payments(AccountState s) => HealthScorer.Score(s, Model, Now)[Component.Billing].Metrics.Single(m => m.Name == "payments").Score;
    }

    [Fact]
    public void Score_DetractorAgesTowardNeutral()
    {
        var state = StateOf([Nps(Now, 0)]);
        var fresh = HealthScorer.Score(state, Model, Now)[Component.Sentiment].Score!.Value;
        var aged = HealthScorer.Score(state, Model, Now.AddDays(180))[Component.Sentiment].Score!.Value;
        Assert.True(fresh < aged && aged < Model.Sentiment.Prior, $"{fresh} -> {aged}");
    }

    [Fact]
    public void Score_YoungAccount_IsHeldToWhatItCouldHaveDone()
    {
        var state = StateOf([Login(Now.AddHours(-2)), Feature(Now.AddHours(-1), "reports")]);
        var usage = HealthScorer.Score(state, Model, Now)[Component.Usage];
        Assert.Equal(100, usage.Metrics.Single(m => m.Name == "activeDays").Score);
        Assert.True(HealthScorer.Score(state, Model, Now).Score >= 60);
    }

    [Fact]
    public void Score_SegmentCadence_RaisesTheBarForEnterprise()
    {
        List<HealthEvent> events = [SubscriptionStarted(Now.AddDays(-90), 100), .. Enumerable.Range(0, 14).Select(d => Login(Now.AddDays(-2 * d)))];
        var smb = StateOf([.. events, Make(EventTypes.AccountUpdated, Now.AddDays(-90), P("segment", "smb"))]);
        var enterprise = StateOf([.. events, Make(EventTypes.AccountUpdated, Now.AddDays(-90), P("segment", "enterprise"))]);
        Assert.True(HealthScorer.Score(smb, Model, Now)[Component.Usage].Score > HealthScorer.Score(enterprise, Model, Now)[Component.Usage].Score);
    }

    [Fact]
    public void Score_ScheduledCancellation_ScoresZeroUntilRenewed()
    {
        var cancelled = StateOf([SubscriptionStarted(Now.AddDays(-100), 500), Make(EventTypes.SubscriptionCancelled, Now.AddDays(-3), P("reason", "voluntary"))]);
        Assert.Equal(0, Cancellation(cancelled));
        var renewed = StateOf([SubscriptionStarted(Now.AddDays(-100), 500), Make(EventTypes.SubscriptionCancelled, Now.AddDays(-3), P("reason", "voluntary")),
            Make(EventTypes.ContractRenewed, Now.AddDays(-1), P("renewalDate", "2027-11-01T00:00:00Z"))]);
        Assert.Equal(100, Cancellation(renewed));

        static double? Cancellation(AccountState s) => HealthScorer.Score(s, Model, Now)[Component.Billing].Metrics.Single(m => m.Name == "cancellation").Score;
    }

    [Fact]
    public void Score_Contraction_ComparesWithThePeak()
    {
        var state = StateOf([SubscriptionStarted(Now.AddDays(-60), 1000), Make(EventTypes.SubscriptionChanged, Now.AddDays(-5), P("mrr", "600"))]);
        Assert.Equal(60, HealthScorer.Score(state, Model, Now)[Component.Billing].Metrics.Single(m => m.Name == "contraction").Score);
    }
}
