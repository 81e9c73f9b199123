using CsMetrics.Contracts.Alerts;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.State;

namespace CsMetrics.Grains.Accounts;

/// <summary>Which alert a band crossing raises.</summary>
public static class AlertRules
{
    public static (string Type, string Severity)? TypeOf(BandCrossing crossing) => (crossing.From, crossing.To) switch
    {
        // An account's first score is where it starts, not a crossing: no alert storm when a
        // product starts sending events for accounts that have little data yet.
        (null, _) => null,
        (_, Band.Red) => (AlertTypes.EnteredRed, AlertTypes.Critical),
        (Band.Green, Band.Yellow) => (AlertTypes.EnteredYellow, AlertTypes.Warning),
        ({ } from, var to) when to > from => (AlertTypes.Recovered, AlertTypes.Informational),
        _ => null,
    };
}
