using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;

namespace CsMetrics.Scoring.Engine;

/// <summary>A band change: what an alert is raised from.</summary>
public sealed record BandCrossing(Band? From, Band To, double Score, ScoreChange Change);

/// <summary>What applying a batch (or re-evaluating) did to one account (a value: one per event on the hot path).</summary>
public readonly record struct ApplyResult(int Applied, int Duplicates, int Late, ScoreCard Card, ScoreChange? Change, BandCrossing? Crossing);

/// <summary>
/// state + events + model + now -> new state and score. The whole lifecycle of an account's
/// score in one place, with no I/O: the grain only adds identity, persistence and timers.
/// </summary>
public static class AccountEngine
{
    public const string TimePassedCause = "time passed";

    /// <summary>
    /// Applies one account's events in event-time order: a duplicate id is ignored, an event
    /// older than the grace window (or the de-duplication horizon) is counted as late and not
    /// applied, everything else is folded into the aggregates; then the account is re-scored.
    /// </summary>
    public static ApplyResult Apply(AccountState state, IReadOnlyList<HealthEvent> events, ScoringModel model, DateTimeOffset now)
    {
        StatePrefetch.Account(state);
        var ordered = InOrder(events) ? events : events.OrderBy(e => e.Timestamp).ThenBy(e => e.Id, StringComparer.Ordinal).ToArray();
        var graceStart = now.AddHours(-model.Ingest.GraceHours);
        int duplicates = 0, late = 0, applied = 0;
        // The events applied, in order, for the cause of a change: `ordered` itself while none was
        // skipped (nearly always), a list of their own only once one is.
        List<HealthEvent>? appliedEvents = null;

        for (var i = 0; i < ordered.Count; i++)
        {
            var e = ordered[i];
            if (state.Dedup.Contains(e.Id))
            {
                duplicates++;
                appliedEvents ??= Prefix(ordered, i);
                continue;
            }
            if (e.Timestamp < graceStart || (state.Dedup.Horizon is { } horizon && e.Timestamp <= horizon))
            {
                late++;
                state.LateEventCount++;
                appliedEvents ??= Prefix(ordered, i);
                continue;
            }
            state.Dedup.Add(e.Id, e.Timestamp);
            EventApplier.Apply(state, e, model);
            appliedEvents?.Add(e);
            applied++;
        }

        if (state.Account.Length == 0 && events.Count > 0)
        {
            state.Account = events[0].Account;
        }
        state.Dedup.Prune(graceStart, model.Ingest.DedupMaxIds);
        EventApplier.Prune(state, model, now);

        var card = HealthScorer.Score(state, model, now, explain: false);
        var (change, crossing) = Record(state, card, model, now, applied == 0 ? null : appliedEvents ?? ordered);
        return new ApplyResult(applied, duplicates, late, card, change, crossing);
    }

    /// <summary>Already in (event time, id) order: a batch usually is, and then it is not copied to be sorted.</summary>
    private static bool InOrder(IReadOnlyList<HealthEvent> events)
    {
        for (var i = 1; i < events.Count; i++)
        {
            var (a, b) = (events[i - 1], events[i]);
            if (a.Timestamp > b.Timestamp || (a.Timestamp == b.Timestamp && string.CompareOrdinal(a.Id, b.Id) > 0))
            {
                return false;
            }
        }
        return true;
    }

    private static List<HealthEvent> Prefix(IReadOnlyList<HealthEvent> ordered, int count)
    {
        var list = new List<HealthEvent>(ordered.Count);
        for (var i = 0; i < count; i++)
        {
            list.Add(ordered[i]);
        }
        return list;
    }

    /// <summary>Re-scores with no new event: windows slide, silence decays the score.</summary>
    public static ApplyResult Reevaluate(AccountState state, ScoringModel model, DateTimeOffset now)
    {
        EventApplier.Prune(state, model, now);
        state.Dedup.Prune(now.AddHours(-model.Ingest.GraceHours), model.Ingest.DedupMaxIds);
        var card = HealthScorer.Score(state, model, now, explain: false);
        var (change, crossing) = Record(state, card, model, now, applied: null);
        return new ApplyResult(0, 0, 0, card, change, crossing);
    }

    private static (ScoreChange?, BandCrossing?) Record(AccountState state, ScoreCard card, ScoringModel model, DateTimeOffset now, IReadOnlyList<HealthEvent>? applied)
    {
        var eval = state.Evaluation;
        var before = eval.Score;
        var beforeBand = eval.Band;
        var band = card.Score is { } score ? Bands.Next(beforeBand, score, model.Bands) : (Band?)null;
        eval.ScoredAt = now;
        if (before == card.Score && beforeBand == band)
        {
            if (card.Score is { } same && band is { } sameBand && state.History.Days is { Count: > 0 } days && days[^1].Day != EventApplier.DayNumber(now))
            {
                state.History.Record(now, same, sameBand, null); // the first evaluation of a new day
            }
            // Contributions can only differ below the rounding of the score: keep them current.
            for (var i = 0; i < card.Components.Count; i++)
            {
                var c = card.Components[i];
                if (!c.NoData)
                {
                    eval.Contributions = eval.Contributions.With(c.Component, c.Contribution);
                }
            }
            return (null, null);
        }

        // Only a real change pays for its explanation.
        var cause = applied is { Count: > 0 } ? CauseOf(applied, card, eval) : TimePassedCause;
        var drivers = ComponentDictionary.Empty;
        var contributions = eval.Contributions;
        for (var i = 0; i < card.Components.Count; i++)
        {
            var c = card.Components[i];
            var current = c.NoData ? 0 : c.Contribution;
            var delta = HealthScorer.Round(current - (contributions.Get(c.Component) ?? 0));
            if (delta != 0)
            {
                drivers = drivers.With(c.Component, delta);
            }
            contributions = c.NoData ? contributions.Without(c.Component) : contributions.With(c.Component, current);
        }
        eval.Contributions = contributions;

        eval.Score = card.Score;
        eval.Band = band;
        var change = new ScoreChange(now, before, card.Score, beforeBand, band, cause, drivers);
        BoundedList.Add(eval.Changes, change, model.Evaluation.MaxChanges);
        if (card.Score is { } recorded && band is { } recordedBand)
        {
            state.History.Record(now, recorded, recordedBand, change);
        }
        var crossing = band is { } to && to != beforeBand ? new BandCrossing(beforeBand, to, card.Score!.Value, change) : null;
        return (change, crossing);
    }

    /// <summary>
    /// Names the event behind a change: the latest event of the family that moved the score
    /// most ("ticket T-123 escalated"), plus how many other events came with it.
    /// </summary>
    private static string CauseOf(IReadOnlyList<HealthEvent> applied, ScoreCard card, EvaluationState eval)
    {
        var top = Component.Usage;
        var largest = double.NegativeInfinity;
        for (var i = 0; i < card.Components.Count; i++)
        {
            var c = card.Components[i];
            var delta = Math.Abs(c.Contribution - (eval.Contributions.Get(c.Component) ?? 0));
            if (delta > largest)
            {
                (top, largest) = (c.Component, delta);
            }
        }
        var family = top switch
        {
            Component.Usage => EventFamily.Usage,
            Component.Support => EventFamily.Support,
            Component.Sentiment => EventFamily.Sentiment,
            Component.Outcomes => EventFamily.Outcomes,
            _ => EventFamily.Billing,
        };
        HealthEvent? notable = null, ofFamily = null;
        for (var i = applied.Count - 1; i >= 0 && notable is null; i--)
        {
            var e = applied[i];
            if (e.Family == family)
            {
                ofFamily ??= e;
                notable = Notable(e) ? e : null;
            }
        }
        var subject = notable ?? ofFamily ?? applied[applied.Count - 1];
        return applied.Count == 1 ? subject.Describe() : $"{subject.Describe()} (+{applied.Count - 1} more events)";
    }

    /// <summary>Events a CS lead would name first when several of one family arrive together.</summary>
    private static bool Notable(HealthEvent e) => e.Type is EventTypes.TicketEscalated or EventTypes.TicketOpened
        or EventTypes.PaymentFailed or EventTypes.SubscriptionCancelled or EventTypes.NpsResponse or EventTypes.CsatResponse
        or EventTypes.MilestoneAchieved or EventTypes.SubscriptionChanged;
}
