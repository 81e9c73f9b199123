using CsMetrics.Contracts.Alerts;
using CsMetrics.Grains.Accounts;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.State;

namespace CsMetrics.Grains.Tests.Accounts;

public class AlertRulesTests
{
    private static BandCrossing Crossing(Band? from, Band to) =>
        new(from, to, 50, new ScoreChange(DateTimeOffset.UnixEpoch, null, 50, from, to, "test", ComponentDictionary.Empty));

    [Theory]
    [InlineData(null, Band.Red, null)]
    [InlineData(null, Band.Green, null)]
    [InlineData(Band.Green, Band.Red, AlertTypes.EnteredRed)]
    [InlineData(Band.Yellow, Band.Red, AlertTypes.EnteredRed)]
    [InlineData(Band.Green, Band.Yellow, AlertTypes.EnteredYellow)]
    [InlineData(Band.Red, Band.Yellow, AlertTypes.Recovered)]
    [InlineData(Band.Yellow, Band.Green, AlertTypes.Recovered)]
    public void TypeOf_RaisesOnlyOnRealCrossings(Band? from, Band to, string? expected) =>
        Assert.Equal(expected, AlertRules.TypeOf(Crossing(from, to))?.Type);
}
