using System.Globalization;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;

namespace CsMetrics.Grains.Accounts;

/// <summary>Maps scoring state to the wire view ops read.</summary>
public static class AccountViews
{
    public static AccountView ToView(AccountState state, ScoreCard card, ScoringModel model, IEnumerable<Alert> openAlerts)
    {
        var components = card.Components.ToDictionary(
            c => c.Name,
            c => new ComponentView(
                c.Score,
                c.Weight,
                HealthScorer.Round(c.Share * 100),
                c.NoData,
                c.Metrics.ToDictionary(m => m.Name, m => new MetricView(m.Value, m.Score is { } s ? HealthScorer.Round(s) : null, m.Weight, m.NoData, m.Detail))));

        var changes = state.Evaluation.Changes
            .AsEnumerable()
            .Reverse()
            .Select(c => new ChangeView(
                c.At, c.From, c.To,
                c.FromBand is { } fb ? Bands.Name(fb) : null,
                c.ToBand is { } tb ? Bands.Name(tb) : null,
                c.Cause,
                new Dictionary<string, double>(c.Drivers),
                Summary(c)))
            .ToArray();

        var p = state.Profile;
        var profile = new ProfileView(p.Name?.Value, p.Segment?.Value, p.Plan?.Value, p.CsmOwner?.Value, p.Seats?.Value,
            state.Billing.Mrr?.Value, state.Billing.RenewalDate?.Value);

        return new AccountView(
            state.Account,
            state.Evaluation.Score,
            state.Evaluation.Band is { } band ? Bands.Name(band) : null,
            components,
            changes,
            state.LastEventAt,
            state.EventCount,
            [.. openAlerts],
            card.At,
            model.Version,
            state.LateEventCount,
            profile,
            changes.Length > 0 ? changes[0].Summary : null);
    }

    /// <summary><c>81 -> 74.5: ticket T-123 escalated, support -7</c>: the biggest drivers first.</summary>
    public static string Summary(ScoreChange change)
    {
        var drivers = change.Drivers
            .OrderByDescending(d => Math.Abs(d.Value))
            .Take(3)
            .Select(d => $"{d.Key} {(d.Value > 0 ? "+" : "")}{Number(d.Value)}");
        var driverText = string.Join(", ", drivers);
        return $"{Number(change.From)} -> {Number(change.To)}: {change.Cause}{(driverText.Length > 0 ? ", " + driverText : "")}";
    }

    private static string Number(double? value) => value is { } v ? v.ToString("0.#", CultureInfo.InvariantCulture) : "none";
}
