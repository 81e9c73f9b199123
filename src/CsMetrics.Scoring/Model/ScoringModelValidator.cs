namespace CsMetrics.Scoring.Model;

/// <summary>Checks a scoring model and reports every bad setting by its path in the file.</summary>
public static class ScoringModelValidator
{
    public static IReadOnlyList<string> Validate(ScoringModel m)
    {
        var errors = new List<string>();

        void Range(string path, double value, double min, double max)
        {
            if (double.IsNaN(value) || value < min || value > max)
            {
                errors.Add($"{path}: expected a number from {min} to {max}, got {value}");
            }
        }

        void Positive(string path, double value)
        {
            if (double.IsNaN(value) || value <= 0)
            {
                errors.Add($"{path}: expected a number greater than 0, got {value}");
            }
        }

        void SubWeights(string path, IReadOnlyDictionary<string, double> weights, params string[] names)
        {
            foreach (var name in names)
            {
                if (!weights.TryGetValue(name, out var w))
                {
                    errors.Add($"{path}.{name}: missing (expected a weight >= 0)");
                }
                else
                {
                    Range($"{path}.{name}", w, 0, 1000);
                }
            }
            foreach (var extra in weights.Keys.Except(names))
            {
                errors.Add($"{path}.{extra}: unknown sub-metric (expected one of {string.Join(", ", names)})");
            }
            if (weights.Values.Sum() <= 0)
            {
                errors.Add($"{path}: at least one sub-metric weight must be greater than 0");
            }
        }

        if (string.IsNullOrWhiteSpace(m.Version))
        {
            errors.Add("version: expected a non-empty version string");
        }

        Range("weights.usage", m.Weights.Usage, 0, 1000);
        Range("weights.support", m.Weights.Support, 0, 1000);
        Range("weights.sentiment", m.Weights.Sentiment, 0, 1000);
        Range("weights.outcomes", m.Weights.Outcomes, 0, 1000);
        Range("weights.billing", m.Weights.Billing, 0, 1000);
        if (m.Weights.Usage + m.Weights.Support + m.Weights.Sentiment + m.Weights.Outcomes + m.Weights.Billing <= 0)
        {
            errors.Add("weights: at least one component weight must be greater than 0");
        }

        Range("bands.green", m.Bands.Green, 0, 100);
        Range("bands.yellow", m.Bands.Yellow, 0, 100);
        if (m.Bands.Yellow >= m.Bands.Green)
        {
            errors.Add($"bands.yellow: expected less than bands.green ({m.Bands.Green}), got {m.Bands.Yellow}");
        }
        Range("bands.hysteresis", m.Bands.Hysteresis, 0, 10);

        Positive("ingest.graceHours", m.Ingest.GraceHours);
        Range("ingest.clockSkewMinutes", m.Ingest.ClockSkewMinutes, 0, 24 * 60);
        Range("ingest.dedupMaxIds", m.Ingest.DedupMaxIds, 16, 1_000_000);

        Range("evaluation.reevaluateMinutes", m.Evaluation.ReevaluateMinutes, 0.01, 24 * 60);
        Range("evaluation.maxChanges", m.Evaluation.MaxChanges, 1, 1000);

        var u = m.Usage;
        Range("usage.windowDays", u.WindowDays, 7, 90);
        Range("usage.recentDays", u.RecentDays, 1, u.WindowDays - 1);
        Range("usage.recentWeight", u.RecentWeight, 1, 10);
        SubWeights("usage.subWeights", u.SubWeights, "activeDays", "breadth", "workflows", "recentActivity");
        if (u.KeyFeatures.Count is 0 or > 64)
        {
            errors.Add($"usage.keyFeatures: expected 1 to 64 feature names, got {u.KeyFeatures.Count}");
        }
        if (u.KeyFeatures.Distinct(StringComparer.Ordinal).Count() != u.KeyFeatures.Count)
        {
            errors.Add("usage.keyFeatures: feature names must be unique");
        }
        Range("usage.expectedBreadth", u.ExpectedBreadth, 1, Math.Max(1, u.KeyFeatures.Count));
        Positive("usage.expectedWorkflows", u.ExpectedWorkflows);
        if (!u.Cadence.ContainsKey("default"))
        {
            errors.Add("usage.cadence.default: missing (expected active days per window for segments not listed)");
        }
        foreach (var (segment, days) in u.Cadence)
        {
            Range($"usage.cadence.{segment}", days, 0.5, u.WindowDays);
        }

        var s = m.Support;
        SubWeights("support.subWeights", s.SubWeights, "openTickets", "escalations", "resolutionTime", "ageing");
        if (!s.PriorityWeights.ContainsKey("normal"))
        {
            errors.Add("support.priorityWeights.normal: missing (used for tickets with no priority)");
        }
        foreach (var (priority, weight) in s.PriorityWeights)
        {
            Range($"support.priorityWeights.{priority}", weight, 0, 100);
        }
        Positive("support.openLoadForZero", s.OpenLoadForZero);
        Range("support.escalationWindowDays", s.EscalationWindowDays, 1, 365);
        Positive("support.escalationsForZero", s.EscalationsForZero);
        Range("support.resolutionWindowDays", s.ResolutionWindowDays, 1, 365);
        Positive("support.resolutionTargetHours", s.ResolutionTargetHours);
        if (s.ResolutionWorstHours <= s.ResolutionTargetHours)
        {
            errors.Add($"support.resolutionWorstHours: expected more than resolutionTargetHours ({s.ResolutionTargetHours}), got {s.ResolutionWorstHours}");
        }
        Range("support.ageingDays", s.AgeingDays, 1, 365);
        Positive("support.ageingForZero", s.AgeingForZero);
        Range("support.maxTickets", s.MaxTickets, 4, 10_000);

        var t = m.Sentiment;
        SubWeights("sentiment.subWeights", t.SubWeights, "nps", "csat");
        Positive("sentiment.halfLifeDays", t.HalfLifeDays);
        Range("sentiment.prior", t.Prior, 0, 100);
        Range("sentiment.priorWeight", t.PriorWeight, 0, 100);
        Range("sentiment.maxAgeDays", t.MaxAgeDays, 1, 3650);
        Range("sentiment.maxResponses", t.MaxResponses, 1, 1000);
        Points("sentiment.npsPoints", t.NpsPoints, 11, errors);
        Points("sentiment.csatPoints", t.CsatPoints, 5, errors);

        var o = m.Outcomes;
        SubWeights("outcomes.subWeights", o.SubWeights, "milestones", "timeToValue");
        Range("outcomes.milestoneEveryDays", o.MilestoneEveryDays, 1, 365);
        Range("outcomes.expectedMilestones", o.ExpectedMilestones, 1, 1000);
        Positive("outcomes.ttvTargetDays", o.TtvTargetDays);
        if (o.TtvWorstDays <= o.TtvTargetDays)
        {
            errors.Add($"outcomes.ttvWorstDays: expected more than ttvTargetDays ({o.TtvTargetDays}), got {o.TtvWorstDays}");
        }
        Range("outcomes.maxMilestones", o.MaxMilestones, 1, 10_000);

        var b = m.Billing;
        SubWeights("billing.subWeights", b.SubWeights, "payments", "contraction", "cancellation", "renewal");
        Range("billing.failureWindowDays", b.FailureWindowDays, 1, 730);
        Positive("billing.failuresForZero", b.FailuresForZero);
        Range("billing.contractionWindowDays", b.ContractionWindowDays, 1, 730);
        Positive("billing.renewalWarningDays", b.RenewalWarningDays);
        Range("billing.renewalFloor", b.RenewalFloor, 0, 100);
        Range("billing.involuntaryCancellationScore", b.InvoluntaryCancellationScore, 0, 100);

        var a = m.Alerts;
        Range("alerts.dwellMinutes", a.DwellMinutes, 0, 7 * 24 * 60);
        Range("alerts.recoveryDwellHours", a.RecoveryDwellHours, 0, 24 * 30);
        Range("alerts.decisiveMargin", a.DecisiveMargin, 0, 100);
        Range("alerts.cooldownHours", a.CooldownHours, 0, 24 * 90);
        Positive("alerts.sharpDrop.points", a.SharpDrop.Points);
        Positive("alerts.sharpDrop.windowHours", a.SharpDrop.WindowHours);
        Positive("alerts.goneSilent.days", a.GoneSilent.Days);
        Positive("alerts.goneSilent.sourceQuietHours", a.GoneSilent.SourceQuietHours);
        if (a.GoneSilent.SourceQuietHours >= a.GoneSilent.Days * 24)
        {
            errors.Add($"alerts.goneSilent.sourceQuietHours: expected less than goneSilent.days in hours ({a.GoneSilent.Days * 24}), got {a.GoneSilent.SourceQuietHours}");
        }
        Range("alerts.paymentFailedGraceHours", a.PaymentFailedGraceHours, 0, 24 * 90);
        Range("alerts.expansion.minNps", a.Expansion.MinNps, 0, 10);
        Range("alerts.expansion.minUsageScore", a.Expansion.MinUsageScore, 0, 100);
        Range("alerts.expansion.cooldownDays", a.Expansion.CooldownDays, 0, 365);
        Positive("alerts.escalation.afterMinutes", a.Escalation.AfterMinutes);
        if (string.IsNullOrWhiteSpace(a.Escalation.Target))
        {
            errors.Add("alerts.escalation.target: expected who escalations go to (a team or role), got nothing");
        }
        foreach (var (type, steps) in a.Playbooks)
        {
            if (!Alerting.AlertKinds.IsKnown(type))
            {
                errors.Add($"alerts.playbooks.{type}: unknown alert type (expected one of {string.Join(", ", Alerting.AlertKinds.All)})");
            }
            if (steps.Count == 0 || steps.Any(string.IsNullOrWhiteSpace))
            {
                errors.Add($"alerts.playbooks.{type}: expected a list of recommended actions");
            }
        }

        return errors;
    }

    private static void Points(string path, IReadOnlyList<double> points, int count, List<string> errors)
    {
        if (points.Count != count)
        {
            errors.Add($"{path}: expected {count} points, got {points.Count}");
            return;
        }
        for (var i = 0; i < points.Count; i++)
        {
            if (points[i] is < 0 or > 100 || double.IsNaN(points[i]))
            {
                errors.Add($"{path}[{i}]: expected a number from 0 to 100, got {points[i]}");
            }
            else if (i > 0 && points[i] < points[i - 1])
            {
                errors.Add($"{path}[{i}]: points must not decrease (a better answer never scores lower), got {points[i]} after {points[i - 1]}");
            }
        }
    }
}
