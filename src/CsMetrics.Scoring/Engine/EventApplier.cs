using System.Runtime.InteropServices;
using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;

namespace CsMetrics.Scoring.Engine;

/// <summary>Folds one event into an account's aggregates. Commutative by design: see <see cref="AccountState"/>.</summary>
public static class EventApplier
{
    public static int DayNumber(DateTimeOffset at) => (int)(at.UtcTicks / TimeSpan.TicksPerDay - DateTimeOffset.UnixEpoch.UtcTicks / TimeSpan.TicksPerDay);

    public static void Apply(AccountState state, HealthEvent e, ScoringModel model)
    {
        state.EventCount++;
        state.LastEventAt = Max(state.LastEventAt, e.Timestamp);
        if (e.Actor != Actor.User)
        {
            state.NonHumanEventCount++;
        }
        if (e.Family == EventFamily.Usage && e.Actor != Actor.User)
        {
            // Bots and background processes are stored and counted, but shape nothing in the
            // score: not usage, and not the account's age either.
            return;
        }
        state.FirstEventAt = Min(state.FirstEventAt, e.Timestamp);

        switch (e.Family)
        {
            case EventFamily.Usage:
                ApplyUsage(state.Usage, e, model.Usage);
                break;
            case EventFamily.Support:
                ApplySupport(state.Support, e, model.Support);
                break;
            case EventFamily.Sentiment:
                ApplySentiment(state.Sentiment, e, model.Sentiment);
                break;
            case EventFamily.Outcomes:
                ApplyOutcomes(state.Outcomes, e, model.Outcomes);
                break;
            case EventFamily.Billing:
                ApplyBilling(state.Billing, e);
                break;
            case EventFamily.Account:
                ApplyProfile(state, e);
                break;
        }
    }

    private static void ApplyUsage(UsageState usage, HealthEvent e, UsageModel model)
    {
        usage.HumanEvents++;
        usage.FirstHumanAt = Min(usage.FirstHumanAt, e.Timestamp);
        if (usage.LastHumanAt is not { } last || e.Timestamp >= last)
        {
            usage.LastHumanAt = e.Timestamp;
            usage.Source = e.Source;
        }

        ref var bucket = ref Bucket(usage, DayNumber(e.Timestamp));
        bucket.Events++;
        switch (e.Type)
        {
            case EventTypes.FeatureUsed when e.Property("feature") is { } feature && KeyFeature(model, feature) is { } name:
                var bit = usage.FeatureNames.IndexOf(name);
                if (bit < 0 && usage.FeatureNames.Count < 64)
                {
                    usage.FeatureNames.Add(name);
                    bit = usage.FeatureNames.Count - 1;
                }
                else if (bit >= 0 && !ReferenceEquals(usage.FeatureNames[bit], name))
                {
                    usage.FeatureNames[bit] = name; // read from a snapshot: share the model's string from now on
                }
                if (bit >= 0)
                {
                    bucket.Features |= 1UL << bit;
                }
                break;
            case EventTypes.WorkflowCompleted:
                bucket.Workflows++;
                break;
            case EventTypes.Session when e.NumberProperty("duration") is { } seconds:
                bucket.SessionSeconds += seconds;
                break;
        }
    }

    /// <summary>
    /// The model's own string for a key feature, or null: every account then shares one string per
    /// feature name (already in the cache when compared) instead of keeping the one its event carried.
    /// </summary>
    private static string? KeyFeature(UsageModel model, string feature)
    {
        var names = model.KeyFeatures;
        for (var i = 0; i < names.Count; i++)
        {
            if (string.Equals(names[i], feature, StringComparison.Ordinal))
            {
                return names[i];
            }
        }
        return null;
    }

    private static ref DayBucket Bucket(UsageState usage, int day)
    {
        var days = usage.Days;
        var i = days.Count - 1;
        while (i >= 0 && days[i].Day > day)
        {
            i--;
        }
        if (i < 0 || days[i].Day != day)
        {
            days.Insert(++i, new DayBucket { Day = day });
        }
        return ref CollectionsMarshal.AsSpan(days)[i];
    }

    private static void ApplySupport(SupportState support, HealthEvent e, SupportModel model)
    {
        support.HasData = true;
        var id = e.Property("ticket") ?? e.Id;
        var tickets = support.Tickets;
        var at = tickets.Count - 1;
        while (at >= 0 && !string.Equals(tickets[at].Id, id, StringComparison.Ordinal))
        {
            at--;
        }
        if (at < 0)
        {
            tickets.Add(new TicketRecord { Id = id });
            at = tickets.Count - 1;
        }
        ref var ticket = ref CollectionsMarshal.AsSpan(tickets)[at];
        switch (e.Type)
        {
            case EventTypes.TicketOpened:
                ticket.OpenedAt = Min(ticket.OpenedAt, e.Timestamp);
                if (e.Property("priority") is { } priority)
                {
                    ticket.Priority = Stamp.Latest(ticket.Priority, new Stamped<string>(e.Timestamp, e.Id, priority));
                }
                break;
            case EventTypes.TicketResolved:
                ticket.ResolvedAt = Max(ticket.ResolvedAt, e.Timestamp);
                break;
            case EventTypes.TicketEscalated:
                ticket.EscalatedAt = Min(ticket.EscalatedAt, e.Timestamp);
                InsertRecent(support.Escalations ??= [], e.Timestamp, model.MaxTickets);
                break;
        }
        if (tickets.Count > model.MaxTickets)
        {
            tickets.RemoveAt(Victim(tickets));
        }
    }

    /// <summary>The ticket that matters least: the longest-resolved one, else the one open the longest (the first of equals).</summary>
    private static int Victim(List<TicketRecord> tickets)
    {
        var victim = -1;
        for (var i = 0; i < tickets.Count; i++)
        {
            if (!tickets[i].IsOpen && (victim < 0 || (tickets[i].ResolvedAt ?? DateTimeOffset.MinValue) < (tickets[victim].ResolvedAt ?? DateTimeOffset.MinValue)))
            {
                victim = i;
            }
        }
        if (victim >= 0)
        {
            return victim;
        }
        victim = 0;
        for (var i = 1; i < tickets.Count; i++)
        {
            if ((tickets[i].OpenSince ?? DateTimeOffset.MinValue) < (tickets[victim].OpenSince ?? DateTimeOffset.MinValue))
            {
                victim = i;
            }
        }
        return victim;
    }

    private static void ApplySentiment(SentimentState sentiment, HealthEvent e, SentimentModel model)
    {
        if (e.NumberProperty("score") is not { } score)
        {
            return;
        }
        var list = e.Type == EventTypes.NpsResponse ? sentiment.Nps : sentiment.Csat ??= [];
        list.Add(new SurveyResponse(e.Timestamp, e.Id, (int)score));
        list.Sort(static (a, b) => a.At != b.At ? b.At.CompareTo(a.At) : string.CompareOrdinal(b.EventId, a.EventId));
        if (list.Count > model.MaxResponses)
        {
            list.RemoveRange(model.MaxResponses, list.Count - model.MaxResponses);
        }
    }

    private static void ApplyOutcomes(OutcomesState outcomes, HealthEvent e, OutcomesModel model)
    {
        outcomes.HasEvents = true;
        outcomes.FirstValueAt = Min(outcomes.FirstValueAt, e.Timestamp);
        if (e.Type == EventTypes.MilestoneAchieved && e.Property("milestone") is { } name)
        {
            var milestones = outcomes.Milestones ??= [];
            var i = milestones.FindIndex(m => m.Name == name);
            if (i >= 0)
            {
                if (e.Timestamp < milestones[i].At)
                {
                    milestones[i] = new MilestoneRecord(name, e.Timestamp);
                }
            }
            else if (milestones.Count < model.MaxMilestones)
            {
                milestones.Add(new MilestoneRecord(name, e.Timestamp));
            }
        }
    }

    private static void ApplyBilling(BillingState billing, HealthEvent e)
    {
        billing.HasData = true;
        switch (e.Type)
        {
            case EventTypes.SubscriptionStarted:
                billing.StartedAt = Min(billing.StartedAt, e.Timestamp);
                billing.LastActivationAt = Max(billing.LastActivationAt, e.Timestamp);
                SetMrr(billing, e);
                break;
            case EventTypes.SubscriptionChanged:
                SetMrr(billing, e);
                break;
            case EventTypes.SubscriptionCancelled:
                billing.Cancellation = Stamp.Latest(billing.Cancellation, new Stamped<string>(e.Timestamp, e.Id, e.Property("reason") ?? "voluntary"));
                break;
            case EventTypes.PaymentFailed:
                billing.LastFailureAt = Max(billing.LastFailureAt, e.Timestamp);
                InsertRecent(billing.Failures ??= [], e.Timestamp, 16);
                break;
            case EventTypes.PaymentRecovered:
                billing.LastRecoveryAt = Max(billing.LastRecoveryAt, e.Timestamp);
                break;
            case EventTypes.ContractRenewed:
                billing.LastActivationAt = Max(billing.LastActivationAt, e.Timestamp);
                if (e.DateProperty("renewalDate") is { } renewal)
                {
                    billing.RenewalDate = Stamp.Latest(billing.RenewalDate, new Stamped<DateTimeOffset>(e.Timestamp, e.Id, renewal));
                }
                break;
        }
    }

    private static void SetMrr(BillingState billing, HealthEvent e)
    {
        if (e.NumberProperty("mrr") is not { } mrr)
        {
            return;
        }
        var stamped = new Stamped<double>(e.Timestamp, e.Id, mrr);
        billing.Mrr = Stamp.Latest(billing.Mrr, stamped);
        var history = billing.MrrHistory ??= [];
        history.Add(stamped);
        history.Sort(static (a, b) => a.At != b.At ? b.At.CompareTo(a.At) : string.CompareOrdinal(b.EventId, a.EventId));
        if (history.Count > 16)
        {
            history.RemoveRange(16, history.Count - 16);
        }
    }

    private static void ApplyProfile(AccountState state, HealthEvent e)
    {
        var p = state.Profile;
        Stamped<string>? S(string? value) => value is null ? null : new Stamped<string>(e.Timestamp, e.Id, value);
        if (S(e.Property("name")) is { } name)
        {
            p.Name = Stamp.Latest(p.Name, name);
        }
        if (S(e.Property("segment") ?? e.Property("tier")) is { } segment)
        {
            p.Segment = Stamp.Latest(p.Segment, segment);
        }
        if (S(e.Property("plan")) is { } plan)
        {
            p.Plan = Stamp.Latest(p.Plan, plan);
        }
        if (S(e.Property("csmOwner")) is { } owner)
        {
            p.CsmOwner = Stamp.Latest(p.CsmOwner, owner);
        }
        if (e.NumberProperty("seats") is { } seats)
        {
            p.Seats = Stamp.Latest(p.Seats, new Stamped<int>(e.Timestamp, e.Id, (int)seats));
        }
        if (e.DateProperty("renewalDate") is { } renewal)
        {
            state.Billing.RenewalDate = Stamp.Latest(state.Billing.RenewalDate, new Stamped<DateTimeOffset>(e.Timestamp, e.Id, renewal));
        }
    }

    /// <summary>Keeps the <paramref name="cap"/> most recent times, newest first.</summary>
    private static void InsertRecent(List<DateTimeOffset> times, DateTimeOffset at, int cap)
    {
        var i = 0;
        while (i < times.Count && times[i] >= at)
        {
            i++;
        }
        times.Insert(i, at);
        if (times.Count > cap)
        {
            times.RemoveAt(times.Count - 1);
        }
    }

    /// <summary>Drops what has left every window, so state stays bounded as time passes.</summary>
    /// <remarks>Runs on every batch: loops instead of RemoveAll lambdas, which would allocate a closure per call.</remarks>
    public static void Prune(AccountState state, ScoringModel model, DateTimeOffset now)
    {
        var today = DayNumber(now);
        var days = state.Usage.Days;
        var firstDay = today - model.Usage.WindowDays;
        var kept = 0;
        var anyFeature = false;
        for (var i = 0; i < days.Count; i++)
        {
            if (days[i].Day > firstDay)
            {
                anyFeature |= days[i].Features != 0;
                days[kept++] = days[i];
            }
        }
        days.RemoveRange(kept, days.Count - kept);
        if (!anyFeature && state.Usage.FeatureNames.Count > 0)
        {
            // Bits refer to FeatureNames; with no bucket left using them, the names can go too.
            state.Usage.FeatureNames.Clear();
        }

        var resolvedCutoff = now.AddDays(-model.Support.ResolutionWindowDays);
        var tickets = state.Support.Tickets;
        kept = 0;
        for (var i = 0; i < tickets.Count; i++)
        {
            if (!(tickets[i].ResolvedAt is { } r && r < resolvedCutoff))
            {
                tickets[kept++] = tickets[i];
            }
        }
        tickets.RemoveRange(kept, tickets.Count - kept);
        RemoveBefore(state.Support.Escalations, now.AddDays(-model.Support.EscalationWindowDays));

        var sentimentCutoff = now.AddDays(-model.Sentiment.MaxAgeDays);
        RemoveBefore(state.Sentiment.Nps, sentimentCutoff);
        RemoveBefore(state.Sentiment.Csat, sentimentCutoff);

        RemoveBefore(state.Billing.Failures, now.AddDays(-model.Billing.FailureWindowDays));
        var mrrCutoff = now.AddDays(-model.Billing.ContractionWindowDays);
        if (state.Billing.MrrHistory is not { } history)
        {
            return;
        }
        kept = 0;
        for (var i = 0; i < history.Count; i++)
        {
            // Keep the current MRR even when old: it is the baseline of the next change.
            if (history[i].At >= mrrCutoff || history[i] == state.Billing.Mrr)
            {
                history[kept++] = history[i];
            }
        }
        history.RemoveRange(kept, history.Count - kept);
    }

    private static void RemoveBefore(List<DateTimeOffset>? times, DateTimeOffset cutoff)
    {
        if (times is null)
        {
            return;
        }
        var kept = 0;
        for (var i = 0; i < times.Count; i++)
        {
            if (times[i] >= cutoff)
            {
                times[kept++] = times[i];
            }
        }
        times.RemoveRange(kept, times.Count - kept);
    }

    private static void RemoveBefore(List<SurveyResponse>? responses, DateTimeOffset cutoff)
    {
        if (responses is null)
        {
            return;
        }
        var kept = 0;
        for (var i = 0; i < responses.Count; i++)
        {
            if (responses[i].At >= cutoff)
            {
                responses[kept++] = responses[i];
            }
        }
        responses.RemoveRange(kept, responses.Count - kept);
    }

    internal static DateTimeOffset? Min(DateTimeOffset? a, DateTimeOffset b) => a is { } x && x <= b ? x : b;

    internal static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset b) => a is { } x && x >= b ? x : b;
}
