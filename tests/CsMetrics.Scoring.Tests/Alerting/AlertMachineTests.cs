using CsMetrics.Scoring.Alerting;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;
using CsMetrics.Testing;

namespace CsMetrics.Scoring.Tests.Alerting;

/// <summary>
/// The alert state machine driven by score sequences: each step sets the account's score the way
/// the engine does (band through the hysteresis, a recorded change), then asks the machine.
/// </summary>
public class AlertMachineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 2, 9, 0, 0, TimeSpan.Zero);
    private static readonly ScoringModel Model = ScoringModel.Default; // dwell 30 min, margin 5, hysteresis 2, cooldown 24 h

    private sealed class Account
    {
        public AccountState State { get; } = new() { Account = "acme" };
        public List<AlertSignal> Signals { get; } = [];

        public IReadOnlyList<AlertSignal> Score(double score, DateTimeOffset at, string cause = "test", ComponentDictionary? contributions = null, AlertContext context = default)
        {
            var eval = State.Evaluation;
            var band = Bands.Next(eval.Band, score, Model.Bands);
            var now = contributions ?? ComponentDictionary.Empty.With(Component.Usage, score);
            if (eval.Score != score || eval.Band != band)
            {
                eval.Changes.Add(new ScoreChange(at, eval.Score, score, eval.Band, band, cause, AlertMachine.TopDrivers(now, eval.Contributions)));
            }
            (eval.Score, eval.Band) = (score, band);
            eval.Contributions = now;
            var signals = AlertMachine.Evaluate(State, Card(score, UsageScore), Model, at, context);
            Signals.AddRange(signals);
            return signals;
        }

        public IEnumerable<AlertSignal> Raised => Signals.Where(s => s.Action == AlertAction.Raise);

        public double? UsageScore { get; set; }
    }

    private static ScoreCard Card(double score, double? usage) => new(score, Bands.Plain(score, Model.Bands),
        [.. Enum.GetValues<Component>().Select(c => new ComponentScore(c, c == Component.Usage ? usage : null, Model.Weight(c), c == Component.Usage ? 1 : 0, []))],
        T0);

    private static bool IsBand(AlertSignal s) => s.Type is AlertKinds.EnteredRed or AlertKinds.EnteredYellow or AlertKinds.Recovered;

    [Fact]
    public void FirstScore_IsWhereTheAccountStarts_NotAnAlert()
    {
        var a = new Account();
        Assert.Empty(a.Score(20, T0));
        Assert.Equal(Band.Red, a.State.Alerts.StableBand);
    }

    [Fact]
    public void ScoreOscillatingAroundTheRedEdgeForADay_YieldsNoMoreThanOneAlert()
    {
        var a = new Account();
        a.Score(70, T0);
        var random = new Random(7);
        // Every 10 minutes for a day, somewhere between 55 and 65: across the edge (60) and past
        // the hysteresis (2) in both directions, but never decisively (beyond 53).
        for (var step = 1; step <= 144; step++)
        {
            a.Score(55 + random.NextDouble() * 10, T0.AddMinutes(10 * step));
        }
        Assert.True(a.Raised.Count() <= 1, $"raised {a.Raised.Count()}: {string.Join(", ", a.Raised.Select(s => $"{s.Type} at {s.At:HH:mm} {s.ScoreBefore}->{s.ScoreAfter}"))}");
    }

    [Fact]
    public void StrictAlternationAcrossTheEdge_NeverOutlastsTheDwell_AndNeverAlerts()
    {
        var a = new Account();
        a.Score(70, T0);
        for (var step = 1; step <= 144; step++)
        {
            a.Score(step % 2 == 1 ? 56 : 64, T0.AddMinutes(10 * step));
        }
        Assert.Empty(a.Signals);
    }

    [Fact]
    public void MarginalCrossing_FiresOnceAfterTheDwell()
    {
        var a = new Account();
        a.Score(70, T0);
        Assert.Empty(a.Score(56, T0.AddMinutes(1)));             // red by the hysteresis, not decisively
        Assert.Empty(a.Score(55.5, T0.AddMinutes(20)));          // still inside the dwell
        var fired = a.Score(55.8, T0.AddMinutes(31));             // dwell (30 min) elapsed
        var red = Assert.Single(fired);
        Assert.Equal((AlertAction.Raise, AlertKinds.EnteredRed, AlertKinds.Critical), (red.Action, red.Type, red.Severity));
        Assert.Equal((70.0, 55.8), (red.ScoreBefore!.Value, red.ScoreAfter!.Value));
        Assert.Equal((Band.Yellow, Band.Red), (red.BandBefore!.Value, red.BandAfter!.Value));
        Assert.Equal(Model.Alerts.PlaybookFor(AlertKinds.EnteredRed), red.Playbook);
        Assert.NotEmpty(red.Playbook);
        Assert.Equal(-14.2, red.Drivers.Get(Component.Usage));
        // Staying red raises nothing more.
        Assert.Empty(a.Score(56, T0.AddHours(2)));
        Assert.Single(a.Raised);
    }

    [Fact]
    public void MarginalRecovery_WaitsForTheRecoveryDwell_AndKeepsTheRedAlertOpenMeanwhile()
    {
        var a = new Account();
        a.Score(70, T0);
        a.Score(40, T0.AddMinutes(1));                            // red at once
        Assert.DoesNotContain(a.Score(63, T0.AddHours(1)), IsBand);  // yellow by the hysteresis, not decisively
        Assert.DoesNotContain(a.Score(64, T0.AddHours(20)), IsBand);
        Assert.True(a.State.Alerts.IsOpen(AlertKinds.EnteredRed));
        var back = a.Score(64, T0.AddHours(25));
        Assert.Contains(back, s => s is { Action: AlertAction.Raise, Type: AlertKinds.Recovered });
        Assert.Contains(back, s => s is { Action: AlertAction.Clear, Type: AlertKinds.EnteredRed });
    }

    [Fact]
    public void DecisiveCrossing_FiresAtOnce()
    {
        var a = new Account();
        a.Score(85, T0);
        var fired = a.Score(40, T0.AddMinutes(1));
        Assert.Equal(AlertKinds.EnteredRed, Assert.Single(fired, IsBand).Type);
        Assert.Contains(fired, s => s.Type == AlertKinds.SharpDrop); // 45 points in a minute is also a sharp drop
    }

    [Fact]
    public void GreenToYellow_IsEnteredYellow_AndRecoveryClearsIt()
    {
        var a = new Account();
        a.Score(90, T0);
        Assert.Equal(AlertKinds.EnteredYellow, Assert.Single(a.Score(65, T0.AddMinutes(1)), IsBand).Type);
        var back = a.Score(95, T0.AddMinutes(2));
        Assert.Contains(back, s => s is { Action: AlertAction.Clear, Type: AlertKinds.EnteredYellow });
        Assert.Contains(back, s => s is { Action: AlertAction.Raise, Type: AlertKinds.Recovered, Severity: AlertKinds.Informational });
    }

    [Fact]
    public void Cooldown_KeepsARepeatedWarningQuiet_ThenLetsItRaiseAgain()
    {
        var a = new Account();
        a.Score(90, T0);
        Assert.Equal(AlertAction.Raise, Assert.Single(a.Score(65, T0.AddMinutes(1)), IsBand).Action); // entered yellow, decisively
        a.Score(95, T0.AddHours(1));                                                                    // back to green: cleared
        Assert.DoesNotContain(a.Score(65, T0.AddHours(2)), s => s.Type == AlertKinds.EnteredYellow);   // within the 24 h cooldown
        a.Score(95, T0.AddHours(3));
        var later = a.Score(65, T0.AddHours(27));                                                       // past the cooldown
        Assert.Equal(AlertAction.Raise, Assert.Single(later, s => s.Type == AlertKinds.EnteredYellow).Action);
        Assert.Equal(2, a.Raised.Count(s => s.Type == AlertKinds.EnteredYellow));
    }

    [Fact]
    public void Cooldown_NeverHoldsBackCriticalNews()
    {
        var a = new Account();
        a.Score(75, T0);
        Assert.Equal(AlertAction.Raise, Assert.Single(a.Score(30, T0.AddMinutes(1)), IsBand).Action);
        a.Score(75, T0.AddHours(1));                                     // recovered decisively: the red alert is cleared
        var again = a.Score(30, T0.AddHours(2));                         // red again within the cooldown
        Assert.Equal(AlertAction.Raise, Assert.Single(again, s => s.Type == AlertKinds.EnteredRed).Action);
    }

    [Fact]
    public void WithinTheCooldown_AnOpenAlertIsUpdated_NotRaisedAgain()
    {
        var a = new Account();
        a.Score(95, T0);
        Assert.Contains(a.Score(78, T0.AddHours(1)), s => s is { Type: AlertKinds.SharpDrop, Action: AlertAction.Raise });
        // The drop is still open; the account recovers a little, then falls again: the machine keeps one open alert.
        a.Score(88, T0.AddHours(2));
        Assert.DoesNotContain(a.Score(77, T0.AddHours(3)), s => s.Type == AlertKinds.SharpDrop && s.Action == AlertAction.Raise);
        Assert.Single(a.Raised, s => s.Type == AlertKinds.SharpDrop);
    }

    [Fact]
    public void SharpDrop_WithinTheWindow_RaisesOnce()
    {
        var a = new Account();
        a.Score(95, T0);
        Assert.DoesNotContain(a.Score(88, T0.AddHours(1)), s => s.Type == AlertKinds.SharpDrop);
        var drop = a.Score(81, T0.AddHours(2));                  // 14 points below 95: below the 15 threshold
        Assert.DoesNotContain(drop, s => s.Type == AlertKinds.SharpDrop);
        var sharp = Assert.Single(a.Score(79, T0.AddHours(3)), s => s.Type == AlertKinds.SharpDrop);
        Assert.Equal((95.0, 79.0), (sharp.ScoreBefore!.Value, sharp.ScoreAfter!.Value));
        Assert.Equal(-16, sharp.Drivers.Get(Component.Usage));
        Assert.DoesNotContain(a.Score(78, T0.AddHours(4)), s => s.Type == AlertKinds.SharpDrop);
    }

    [Fact]
    public void SlowDecline_OutsideTheWindow_IsNotASharpDrop()
    {
        var a = new Account();
        a.Score(95, T0);
        for (var day = 1; day <= 10; day++)
        {
            a.Score(95 - 3 * day, T0.AddDays(day));
        }
        Assert.DoesNotContain(a.Signals, s => s.Type == AlertKinds.SharpDrop);
    }

    [Fact]
    public void GoneSilent_AfterTheConfiguredDays_UnlessTheSourceIsQuiet_AndClearedWhenUsageResumes()
    {
        var a = new Account();
        a.State.Usage.LastHumanAt = T0;
        a.Score(80, T0);
        Assert.DoesNotContain(a.Score(80, T0.AddDays(13)), s => s.Type == AlertKinds.GoneSilent);
        Assert.DoesNotContain(a.Score(80, T0.AddDays(14), context: new AlertContext(SourceQuiet: true)), s => s.Type == AlertKinds.GoneSilent);
        var silent = Assert.Single(a.Score(80, T0.AddDays(14).AddHours(1)), s => s.Type == AlertKinds.GoneSilent);
        Assert.Equal((AlertAction.Raise, AlertKinds.Warning), (silent.Action, silent.Severity));
        Assert.Contains("no human usage for 14 days", silent.Cause, StringComparison.Ordinal);
        Assert.DoesNotContain(a.Score(80, T0.AddDays(15)), s => s.Type == AlertKinds.GoneSilent);

        a.State.Usage.LastHumanAt = T0.AddDays(16);
        Assert.Contains(a.Score(80, T0.AddDays(16)), s => s is { Type: AlertKinds.GoneSilent, Action: AlertAction.Clear });
    }

    [Fact]
    public void PaymentFailed_AlertsOnceAfterTheGrace_UnlessRecovered()
    {
        var a = new Account();
        a.Score(80, T0);
        a.State.Billing.LastFailureAt = T0;
        Assert.Empty(a.Score(80, T0.AddHours(47)));
        var failed = Assert.Single(a.Score(80, T0.AddHours(48)));
        Assert.Equal((AlertKinds.PaymentFailed, AlertKinds.Critical), (failed.Type, failed.Severity));
        Assert.Empty(a.Score(80, T0.AddHours(60)));
        a.State.Billing.LastRecoveryAt = T0.AddHours(61);
        Assert.Equal(AlertAction.Clear, Assert.Single(a.Score(80, T0.AddHours(61))).Action);

        var b = new Account();
        b.Score(80, T0);
        b.State.Billing.LastFailureAt = T0;
        b.State.Billing.LastRecoveryAt = T0.AddHours(5);
        Assert.Empty(b.Score(80, T0.AddHours(72)));
    }

    [Fact]
    public void ExpansionSignal_ForAPromoterWithStrongUsage_OnceUntilItStopsHolding()
    {
        var a = new Account { UsageScore = 90 };
        a.Score(88, T0);
        a.State.Sentiment.Nps.Add(new SurveyResponse(T0, "n1", 6));
        Assert.Empty(a.Score(88, T0.AddHours(1)));
        a.State.Sentiment.Nps.Add(new SurveyResponse(T0.AddHours(2), "n2", 10));
        var signal = Assert.Single(a.Score(88, T0.AddHours(2)));
        Assert.Equal((AlertKinds.ExpansionSignal, AlertKinds.Opportunity), (signal.Type, signal.Severity));
        Assert.Empty(a.Score(89, T0.AddHours(3)));
        a.UsageScore = 70;
        Assert.Equal(AlertAction.Clear, Assert.Single(a.Score(89, T0.AddHours(4))).Action);
    }

    [Fact]
    public void Decisive_MeansBeyondHysteresisAndMargin()
    {
        Assert.True(AlertMachine.Decisive(Band.Yellow, Band.Red, 53, Model));
        Assert.False(AlertMachine.Decisive(Band.Yellow, Band.Red, 53.5, Model));
        Assert.True(AlertMachine.Decisive(Band.Yellow, Band.Green, 87, Model));
        Assert.False(AlertMachine.Decisive(Band.Yellow, Band.Green, 86, Model));
        Assert.True(AlertMachine.Decisive(Band.Green, Band.Yellow, 73, Model));
    }

    [Fact]
    public void TopDrivers_KeepsTheThreeLargestMoves()
    {
        var before = ComponentDictionary.Empty.With(Component.Usage, 30).With(Component.Support, 15).With(Component.Sentiment, 10).With(Component.Billing, 5);
        var now = ComponentDictionary.Empty.With(Component.Usage, 20).With(Component.Support, 14).With(Component.Sentiment, 13).With(Component.Billing, 1);
        var top = AlertMachine.TopDrivers(now, before);
        Assert.Equal(3, top.Count);
        Assert.Equal(-10, top.Get(Component.Usage));
        Assert.Equal(-4, top.Get(Component.Billing));
        Assert.Equal(3, top.Get(Component.Sentiment));
        Assert.False(top.Has(Component.Support));
    }

    [Fact]
    public void AlertMemory_SurvivesTheSnapshot()
    {
        var a = new Account();
        a.Score(70, T0);
        a.Score(56, T0.AddMinutes(1));
        var restored = AccountStateSerializer.Deserialize(AccountStateSerializer.Serialize(a.State));
        Assert.Equal(Band.Red, restored.Alerts.PendingBand);
        Assert.Equal(T0.AddMinutes(1), restored.Alerts.PendingSince);
        Assert.Equal(Band.Yellow, restored.Alerts.StableBand);
    }

    [Fact]
    public void ModelFile_RejectsBadAlertSettingsByName()
    {
        var e = Assert.Throws<ModelValidationException>(() => Models.With(m =>
        {
            m["alerts"]!["dwellMinutes"] = -1;
            m["alerts"]!["playbooks"]!["nonsense"] = new System.Text.Json.Nodes.JsonArray("x");
            m["alerts"]!["escalation"]!["target"] = "";
        }));
        Assert.Contains(e.Errors, x => x.StartsWith("alerts.dwellMinutes:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("alerts.playbooks.nonsense: unknown alert type", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("alerts.escalation.target:", StringComparison.Ordinal));
    }
}
