using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;

namespace CsMetrics.Scoring.Engine;

/// <summary>
/// The health score as a pure function of (state, model, now). docs/scoring.md gives every
/// formula here in prose; keep the two in step.
/// </summary>
public static class HealthScorer
{
    private const double HoursPerDay = 24;

    /// <param name="explain">Keep the sub-metrics, each with its <see cref="MetricScore.Detail"/> sentence, in
    /// the card; the hot path (scoring on every event) needs only the component scores, views ask for them.</param>
    public static ScoreCard Score(AccountState state, ScoringModel model, DateTimeOffset now, bool explain = true)
    {
        ReadOnlySpan<(Component Component, double? Score, IReadOnlyList<MetricScore> Metrics)> raw =
        [
            Usage(state, model, now, explain),
            Support(state, model, now, explain),
            Sentiment(state, model, now, explain),
            Outcomes(state, model, now, explain),
            Billing(state, model, now, explain),
        ];

        // A component with no data is left out and its weight spread over the others.
        double totalWeight = 0, weighted = 0;
        foreach (var c in raw)
        {
            if (c.Score is { } score)
            {
                totalWeight += model.Weight(c.Component);
                weighted += score * model.Weight(c.Component);
            }
        }
        var components = new ComponentScore[raw.Length];
        for (var i = 0; i < raw.Length; i++)
        {
            var c = raw[i];
            components[i] = new ComponentScore(
                c.Component,
                c.Score is { } s ? Round(s) : null,
                model.Weight(c.Component),
                c.Score is not null && totalWeight > 0 ? model.Weight(c.Component) / totalWeight : 0,
                c.Metrics);
        }

        double? total = totalWeight > 0 ? Round(weighted / totalWeight) : null;
        return new ScoreCard(total, total is { } t ? Bands.Plain(t, model.Bands) : null, components, now);
    }

    internal static (Component, double?, IReadOnlyList<MetricScore>) Usage(AccountState state, ScoringModel model, DateTimeOffset now, bool explain)
    {
        var u = model.Usage;
        var usage = state.Usage;
        if (!usage.HasData)
        {
            return (Component.Usage, null, []);
        }
        var today = EventApplier.DayNumber(now);
        var cadence = u.CadenceFor(state.Profile.Segment?.Value);
        var olderDays = u.WindowDays - u.RecentDays;

        double weightedActive = 0;
        int activeDays = 0, recentActive = 0, workflows = 0;
        ulong features = 0;
        foreach (var d in usage.Days)
        {
            var age = today - d.Day;
            if (age >= u.WindowDays || d.Events == 0)
            {
                continue;
            }
            // Events up to the clock-skew allowance in the future belong to today.
            var recent = age < u.RecentDays;
            activeDays++;
            weightedActive += recent ? u.RecentWeight : 1;
            recentActive += recent ? 1 : 0;
            workflows += d.Workflows;
            features |= d.Features;
        }
        // A young account is held to what it could have done since it started: expectations
        // are prorated over the days it has existed, up to the full window.
        var start = state.Billing.StartedAt ?? state.FirstEventAt ?? usage.FirstHumanAt!.Value;
        var observedDays = Math.Clamp(today - EventApplier.DayNumber(start) + 1, 1, u.WindowDays);
        var observedRecent = Math.Min(observedDays, u.RecentDays);
        var expectedWeighted = cadence / u.WindowDays * (observedRecent * u.RecentWeight + (observedDays - observedRecent));
        var expectedRecent = cadence / u.WindowDays * observedRecent;
        var expectedWorkflows = u.ExpectedWorkflows * observedDays / u.WindowDays;
        var breadth = System.Numerics.BitOperations.PopCount(features);
        var expectedBreadth = Math.Max(1, (int)Math.Round(Math.Min(u.ExpectedBreadth, u.KeyFeatures.Count) * Math.Min(1.0, observedDays / (double)u.RecentDays)));
        var olderActive = activeDays - recentActive;
        var trend = olderActive == 0 ? (double?)null : (recentActive / (double)u.RecentDays) / (olderActive / (double)olderDays) - 1;

        ReadOnlySpan<MetricScore> metrics =
        [
            new("activeDays", activeDays, Ratio(weightedActive, expectedWeighted), u.SubWeights["activeDays"],
                explain ? $"{activeDays} active days in {observedDays} (last {u.RecentDays} count x{u.RecentWeight}); {cadence} per {u.WindowDays} expected for segment {state.Profile.Segment?.Value ?? "default"}" : ""),
            new("breadth", breadth, Ratio(breadth, expectedBreadth), u.SubWeights["breadth"],
                explain ? $"{breadth} of {expectedBreadth} expected key features used in {observedDays} days" : ""),
            new("workflows", workflows, Ratio(workflows, expectedWorkflows), u.SubWeights["workflows"],
                explain ? $"{workflows} workflows completed in {observedDays} days, {Round(expectedWorkflows)} expected" : ""),
            new("recentActivity", recentActive, Ratio(recentActive, expectedRecent), u.SubWeights["recentActivity"],
                explain ? $"{recentActive} active days in the last {u.RecentDays}, {Round(expectedRecent)} expected" : ""),
            // Reported, weight 0: the trend enters the score through the recent-day weighting
            // above, which keeps the score monotone (more activity never lowers it).
            new("trend", trend is { } tr ? Round(tr * 100) : null, null, 0,
                !explain ? "" : trend is { } t ? $"last {u.RecentDays} days {(t >= 0 ? "+" : "")}{Round(t * 100)}% vs the {olderDays} days before" : "no activity in the earlier weeks to compare with"),
            new("daysSinceLastUse", Round((now - usage.LastHumanAt!.Value).TotalDays), null, 0, "days since the last human usage event"),
        ];
        return (Component.Usage, Combine(metrics), explain ? metrics.ToArray() : []);
    }

    internal static (Component, double?, IReadOnlyList<MetricScore>) Support(AccountState state, ScoringModel model, DateTimeOffset now, bool explain)
    {
        var s = model.Support;
        var support = state.Support;
        if (!support.HasData)
        {
            return (Component.Support, null, []);
        }
        double openLoad = 0;
        int open = 0, ageing = 0;
        var ageingCutoff = now.AddDays(-s.AgeingDays);
        var resolutionCutoff = now.AddDays(-s.ResolutionWindowDays);
        double resolutionHours = 0;
        var resolved = 0;
        // By reference: a ticket keeps its priority weight (TicketRecord.PriorityWeight) in the list.
        foreach (ref var t in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(support.Tickets))
        {
            if (t.IsOpen)
            {
                open++;
                openLoad += t.PriorityWeight(s) + (t.EscalatedAt is null ? 0 : 1);
                if (t.OpenSince is { } since && since < ageingCutoff)
                {
                    ageing++;
                }
            }
            else if (t is { OpenedAt: { } o, ResolvedAt: { } r } && r >= resolutionCutoff)
            {
                resolved++;
                resolutionHours += Math.Max(0, (r - o).TotalHours);
            }
        }
        var escalationCutoff = now.AddDays(-s.EscalationWindowDays);
        var escalations = CountSince(support.Escalations, escalationCutoff);
        double? meanResolution = resolved > 0 ? resolutionHours / resolved : null;

        ReadOnlySpan<MetricScore> metrics =
        [
            new("openTickets", open, 100 * Math.Max(0, 1 - openLoad / s.OpenLoadForZero), s.SubWeights["openTickets"],
                explain ? $"{open} open tickets, load {Round(openLoad)} (priority-weighted, +1 if escalated); {s.OpenLoadForZero} scores 0" : ""),
            new("escalations", escalations, 100 * Math.Max(0, 1 - escalations / s.EscalationsForZero), s.SubWeights["escalations"],
                explain ? $"{escalations} escalations in {s.EscalationWindowDays} days; {s.EscalationsForZero} score 0" : ""),
            new("resolutionTime", meanResolution is { } m ? Round(m) : null,
                meanResolution is { } h ? 100 * Clamp01(1 - (h - s.ResolutionTargetHours) / (s.ResolutionWorstHours - s.ResolutionTargetHours)) : null,
                s.SubWeights["resolutionTime"],
                !explain ? "" : meanResolution is null ? $"no ticket resolved in {s.ResolutionWindowDays} days" : $"mean {Round(meanResolution.Value)} h over {resolved} tickets; target {s.ResolutionTargetHours} h, {s.ResolutionWorstHours} h scores 0"),
            new("ageing", ageing, 100 * Math.Max(0, 1 - ageing / s.AgeingForZero), s.SubWeights["ageing"],
                explain ? $"{ageing} tickets open longer than {s.AgeingDays} days; {s.AgeingForZero} score 0" : ""),
        ];
        return (Component.Support, Combine(metrics), explain ? metrics.ToArray() : []);
    }

    internal static (Component, double?, IReadOnlyList<MetricScore>) Sentiment(AccountState state, ScoringModel model, DateTimeOffset now, bool explain)
    {
        var m = model.Sentiment;
        var sentiment = state.Sentiment;
        if (!sentiment.HasData)
        {
            return (Component.Sentiment, null, []);
        }
        MetricScore Survey(string name, List<SurveyResponse>? responses, IReadOnlyList<double> points, int offset)
        {
            if (responses is not { Count: > 0 })
            {
                return new MetricScore(name, null, null, m.SubWeights[name], explain ? $"no {name.ToUpperInvariant()} response in {m.MaxAgeDays} days" : "");
            }
            // Recency-weighted mean, pulled toward the neutral prior as answers age.
            double sum = m.Prior * m.PriorWeight, weights = m.PriorWeight;
            foreach (var r in responses)
            {
                var ageDays = Math.Max(0, (now - r.At).TotalDays);
                var w = Math.Pow(0.5, ageDays / m.HalfLifeDays);
                sum += w * points[Math.Clamp(r.Score - offset, 0, points.Count - 1)];
                weights += w;
            }
            var latest = responses[0];
            var category = name == "nps" ? latest.Score >= 9 ? "promoter" : latest.Score >= 7 ? "passive" : "detractor" : null;
            return new MetricScore(name, latest.Score, sum / weights, m.SubWeights[name],
                !explain ? "" : $"latest {latest.Score}{(category is null ? "" : $" ({category})")} of {responses.Count} responses, half-life {m.HalfLifeDays} days");
        }
        ReadOnlySpan<MetricScore> metrics =
        [
            Survey("nps", sentiment.Nps, m.NpsPoints, 0),
            Survey("csat", sentiment.Csat, m.CsatPoints, 1),
        ];
        return (Component.Sentiment, Combine(metrics), explain ? metrics.ToArray() : []);
    }

    internal static (Component, double?, IReadOnlyList<MetricScore>) Outcomes(AccountState state, ScoringModel model, DateTimeOffset now, bool explain)
    {
        var o = model.Outcomes;
        var outcomes = state.Outcomes;
        var start = state.Billing.StartedAt ?? state.FirstEventAt;
        if (start is null || !outcomes.HasEvents)
        {
            // A product that never reports outcomes is not penalised for it: no data, not zero.
            return (Component.Outcomes, null, []);
        }
        var ageDays = Math.Max(0, (now - start.Value).TotalDays);
        var achieved = outcomes.Milestones?.Count ?? 0;
        var expected = Math.Min(o.ExpectedMilestones, 1 + (int)(ageDays / o.MilestoneEveryDays));

        double? ttvDays = outcomes.FirstValueAt is { } v ? Math.Max(0, (v - start.Value).TotalDays) : null;
        ReadOnlySpan<MetricScore> metrics =
        [
            new("milestones", achieved, Ratio(achieved, expected), o.SubWeights["milestones"],
                explain ? $"{achieved} milestones achieved, {expected} expected at {Round(ageDays)} days old" : ""),
            new("timeToValue", ttvDays is { } d ? Round(d) : null,
                ttvDays is { } t ? 100 * Clamp01(1 - (t - o.TtvTargetDays) / (o.TtvWorstDays - o.TtvTargetDays)) : null,
                o.SubWeights["timeToValue"],
                !explain ? "" : ttvDays is { } first ? $"first value after {Round(first)} days; target {o.TtvTargetDays}, {o.TtvWorstDays} scores 0" : "no value realised yet"),
        ];
        return (Component.Outcomes, Combine(metrics), explain ? metrics.ToArray() : []);
    }

    internal static (Component, double?, IReadOnlyList<MetricScore>) Billing(AccountState state, ScoringModel model, DateTimeOffset now, bool explain)
    {
        var b = model.Billing;
        var billing = state.Billing;
        if (!billing.HasData && billing.RenewalDate is null)
        {
            return (Component.Billing, null, []);
        }
        var failureCutoff = now.AddDays(-b.FailureWindowDays);
        var failures = CountSince(billing.Failures, failureCutoff);
        var outstanding = billing.PaymentOutstanding;

        var mrrCutoff = now.AddDays(-b.ContractionWindowDays);
        double? highest = null;
        foreach (var m in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(billing.MrrHistory))
        {
            if ((m.At >= mrrCutoff || m == billing.Mrr) && (highest is null || m.Value > highest))
            {
                highest = m.Value;
            }
        }
        var peak = highest ?? 0;
        double? contraction = billing.Mrr is { } mrr && peak > 0 ? 100 * Clamp01(mrr.Value / peak) : null;

        var cancellation = billing.CancellationScheduled
            ? billing.Cancellation!.Value == "involuntary" ? b.InvoluntaryCancellationScore : 0
            : 100.0;

        double? daysToRenewal = billing.RenewalDate is { } rd ? (rd.Value - now).TotalDays : null;
        double? renewal = daysToRenewal switch
        {
            null => null,
            >= 0 when daysToRenewal >= b.RenewalWarningDays => 100,
            >= 0 => b.RenewalFloor + (100 - b.RenewalFloor) * daysToRenewal.Value / b.RenewalWarningDays,
            _ => b.RenewalFloor / 2, // the renewal date passed with no renewal recorded
        };

        ReadOnlySpan<MetricScore> metrics =
        [
            new("payments", failures, outstanding ? 0 : 100 * Math.Max(0, 1 - failures / b.FailuresForZero), b.SubWeights["payments"],
                !explain ? "" : outstanding ? "a payment failed and has not been recovered" : $"{failures} payment failures in {b.FailureWindowDays} days; {b.FailuresForZero} score 0"),
            new("contraction", billing.Mrr?.Value, contraction, b.SubWeights["contraction"],
                !explain ? "" : contraction is null ? "no MRR reported" : $"MRR {billing.Mrr!.Value} vs peak {peak} in {b.ContractionWindowDays} days"),
            new("cancellation", billing.CancellationScheduled ? 1 : 0, cancellation, b.SubWeights["cancellation"],
                !explain ? "" : billing.CancellationScheduled ? $"cancellation scheduled ({billing.Cancellation!.Value})" : "no cancellation scheduled"),
            new("renewal", daysToRenewal is { } dr ? Round(dr) : null, renewal, b.SubWeights["renewal"],
                !explain ? "" : daysToRenewal is null ? "renewal date unknown" : daysToRenewal < 0 ? "renewal date passed with no renewal" : $"{Round(daysToRenewal.Value)} days to renewal; under {b.RenewalWarningDays} lowers the score"),
        ];
        return (Component.Billing, Combine(metrics), explain ? metrics.ToArray() : []);
    }

    /// <summary>Weighted mean of the sub-metrics that have data; null when none has.</summary>
    private static double? Combine(ReadOnlySpan<MetricScore> metrics)
    {
        double sum = 0, weights = 0;
        foreach (var m in metrics)
        {
            if (m.Score is { } s && m.Weight > 0)
            {
                sum += s * m.Weight;
                weights += m.Weight;
            }
        }
        return weights > 0 ? Math.Clamp(sum / weights, 0, 100) : null;
    }

    private static double Ratio(double value, double expected) => 100 * Clamp01(value / expected);

    private static double Clamp01(double value) => double.IsNaN(value) ? 0 : Math.Clamp(value, 0, 1);

    public static double Round(double value) => Math.Round(value, 1, MidpointRounding.AwayFromZero);

    /// <summary>How many of <paramref name="times"/> (none when null) are at or after <paramref name="since"/>.</summary>
    private static int CountSince(List<DateTimeOffset>? times, DateTimeOffset since)
    {
        var count = 0;
        foreach (var t in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(times))
        {
            if (t >= since)
            {
                count++;
            }
        }
        return count;
    }
}
