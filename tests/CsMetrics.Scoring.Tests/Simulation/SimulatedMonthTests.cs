using CsMetrics.Scoring.Alerting;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.State;
using CsMetrics.Simulator;
using CsMetrics.Testing;

namespace CsMetrics.Scoring.Tests.Simulation;

/// <summary>
/// Does the score flag the right accounts? A simulated month of a known population through the
/// pure engine and alert state machine, checked against the simulator's ground truth.
/// </summary>
public class SimulatedMonthTests(ITestOutputHelper output)
{
    private static readonly DateTimeOffset Start = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void AfterASimulatedMonth_ChurnersAreRedOrAlerted_AndHealthyAccountsAreNotRed()
    {
        var model = Models.Replay;
        var population = new Population(accounts: 300, churnShare: 0.2, expandShare: 0.1, Start, seed: 7);
        var states = population.Accounts.ToDictionary(a => a.Id, _ => new AccountState());
        var critical = new HashSet<string>(StringComparer.Ordinal);

        void Evaluate(string account, ApplyResult result, DateTimeOffset now)
        {
            foreach (var signal in AlertMachine.Evaluate(states[account], result.Card, model, now, default))
            {
                if (signal is { Action: AlertAction.Raise, Severity: AlertKinds.Critical })
                {
                    critical.Add(account);
                }
            }
        }

        foreach (var group in population.History().GroupBy(e => e.Account))
        {
            Evaluate(group.Key, AccountEngine.Apply(states[group.Key], [.. group], model, Start), Start);
        }
        for (var day = 0; day < 30; day++)
        {
            var now = Start.AddDays(day + 1);
            var byAccount = population.Day(day).GroupBy(e => e.Account).ToDictionary(g => g.Key, g => g.ToList());
            foreach (var account in population.Accounts)
            {
                var result = byAccount.TryGetValue(account.Id, out var events)
                    ? AccountEngine.Apply(states[account.Id], events, model, now)
                    : AccountEngine.Reevaluate(states[account.Id], model, now);
                Evaluate(account.Id, result, now);
            }
        }

        var churners = population.Accounts.Where(a => a.Trajectory == Trajectory.Churning).ToList();
        var healthy = population.Accounts.Where(a => a.Trajectory == Trajectory.Healthy).ToList();
        var flagged = churners.Count(a => states[a.Id].Evaluation.Band == Band.Red || critical.Contains(a.Id));
        var healthyRed = healthy.Count(a => states[a.Id].Evaluation.Band == Band.Red);
        output.WriteLine($"churners flagged {flagged}/{churners.Count}; healthy red {healthyRed}/{healthy.Count}; " +
            $"median healthy score {Median(healthy.Select(a => states[a.Id].Evaluation.Score ?? 0))}, median churner score {Median(churners.Select(a => states[a.Id].Evaluation.Score ?? 0))}");
        Assert.True(churners.Count >= 40, $"the population should hold enough churners to judge, got {churners.Count}");
        Assert.True(flagged >= 0.8 * churners.Count, $"only {flagged} of {churners.Count} churners are red or have a critical alert");
        Assert.True(healthyRed < 0.1 * healthy.Count, $"{healthyRed} of {healthy.Count} healthy accounts are red");
    }

    [Fact]
    public void TheSameSeed_GivesTheSamePopulationAndEvents_AndTheGroundTruthNamesEveryAccount()
    {
        var a = new Population(50, 0.2, 0.1, Start, seed: 3);
        var b = new Population(50, 0.2, 0.1, Start, seed: 3);
        Assert.Equal(a.Accounts, b.Accounts);
        Assert.Equal(a.Day(4).Select(e => (e.Id, e.Timestamp, e.Type)), b.Day(4).Select(e => (e.Id, e.Timestamp, e.Type)));
        var csv = a.GroundTruthCsv().Split('\n');
        Assert.Equal("account,segment,trajectory", csv[0]);
        Assert.Equal(51, csv.Length);
        Assert.NotEqual(a.Accounts.Select(x => x.Trajectory), new Population(50, 0.2, 0.1, Start, seed: 4).Accounts.Select(x => x.Trajectory));
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : Math.Round(sorted[sorted.Count / 2], 1);
    }
}
