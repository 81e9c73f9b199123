using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;

namespace CsMetrics.Scoring.Alerting;

/// <summary>What an account asks of its alerts.</summary>
public enum AlertAction
{
    /// <summary>A new alert of this type (or, if one is still open, an update of it).</summary>
    Raise,

    /// <summary>The condition fired again within the cooldown: refresh the open alert, notify nobody.</summary>
    Update,

    /// <summary>The condition is over (the account recovered, usage resumed, the payment came in): close the open alert.</summary>
    Clear,
}

/// <summary>One decision of the alert state machine for one account.</summary>
public sealed record AlertSignal(
    AlertAction Action,
    string Type,
    string Severity,
    DateTimeOffset At,
    double? ScoreBefore,
    double? ScoreAfter,
    Band? BandBefore,
    Band? BandAfter,
    string Cause,
    ComponentDictionary Drivers,
    IReadOnlyList<string> Playbook);

/// <summary>What the state machine cannot see in the account's own state.</summary>
/// <param name="SourceQuiet">The source that feeds this account sent nothing at all lately: its silence is not the customer's.</param>
public readonly record struct AlertContext(bool SourceQuiet);

/// <summary>
/// The alert state machine of one account: pure, driven by the account's state after each event
/// and each re-evaluation. Band alerts follow a confirmed band: the score's band (already kept
/// from flapping by the band hysteresis) must differ from the confirmed one decisively (more than
/// <see cref="AlertModel.DecisiveMargin"/> past the edge) or for <see cref="AlertModel.DwellMinutes"/>
/// before it is confirmed and alerts (<see cref="AlertModel.RecoveryDwellHours"/> for a marginal
/// recovery, so a score meandering across an edge alerts once, not red-recovered-red); a score that
/// wanders back before then changes nothing.
/// A type other than a critical one that fired within <see cref="AlertModel.CooldownHours"/> does
/// not raise again: it updates its alert if still open, and stays quiet if that was cleared.
/// Conditions that end (recovery, usage resuming, the payment recovered) clear their open alert.
/// </summary>
public static class AlertMachine
{
    private static readonly IReadOnlyList<AlertSignal> None = [];

    public static IReadOnlyList<AlertSignal> Evaluate(AccountState state, ScoreCard card, ScoringModel model, DateTimeOffset now, AlertContext context)
    {
        List<AlertSignal>? signals = null;
        var track = state.Alerts;
        var eval = state.Evaluation;
        var rules = model.Alerts;

        if (eval.Band is { } band && eval.Score is { } score)
        {
            if (track.StableBand is not { } stable)
            {
                // An account's first score is where it starts, not a crossing: no alert storm when
                // a product starts sending events for accounts that have little data yet.
                Confirm(track, band, score, eval.Contributions);
            }
            else if (band == stable)
            {
                track.PendingBand = null;
                track.PendingSince = null;
            }
            else
            {
                if (track.PendingBand != band || track.PendingSince is null)
                {
                    track.PendingBand = band;
                    track.PendingSince = now;
                }
                var dwell = band > stable ? TimeSpan.FromHours(rules.RecoveryDwellHours) : TimeSpan.FromMinutes(rules.DwellMinutes);
                if (Decisive(stable, band, score, model) || now - track.PendingSince.Value >= dwell)
                {
                    BandChanged(ref signals, state, model, now, stable, band, score);
                }
            }

            if (eval.Changes.Count > 0)
            {
                SharpDrop(ref signals, state, model, now, score);
            }
        }

        GoneSilent(ref signals, state, model, now, context);
        PaymentFailed(ref signals, state, model, now);
        Expansion(ref signals, state, card, model, now);
        return signals ?? None;
    }

    /// <summary>Well past the edge of the new band (beyond hysteresis and the decisive margin): alert at once.</summary>
    public static bool Decisive(Band from, Band to, double score, ScoringModel model)
    {
        var bands = model.Bands;
        var margin = bands.Hysteresis + model.Alerts.DecisiveMargin;
        return to < from
            ? score <= (to == Band.Red ? bands.Yellow : bands.Green) - margin
            : score >= (to == Band.Green ? bands.Green : bands.Yellow) + margin;
    }

    private static void Confirm(AlertTrackState track, Band band, double score, ComponentDictionary contributions)
    {
        track.StableBand = band;
        track.StableScore = score;
        track.StableContributions = contributions;
        track.PendingBand = null;
        track.PendingSince = null;
    }

    private static void BandChanged(ref List<AlertSignal>? signals, AccountState state, ScoringModel model, DateTimeOffset now, Band from, Band to, double score)
    {
        var track = state.Alerts;
        var eval = state.Evaluation;
        var drivers = TopDrivers(eval.Contributions, track.StableContributions);
        var cause = LastBandCause(eval) ?? AccountEngine.TimePassedCause;
        var before = track.StableScore;
        Confirm(track, to, score, eval.Contributions);

        if (to > from)
        {
            Clear(ref signals, state, AlertKinds.EnteredRed, now, score, cause);
            if (to == Band.Green)
            {
                Clear(ref signals, state, AlertKinds.EnteredYellow, now, score, cause);
            }
        }
        else
        {
            Clear(ref signals, state, AlertKinds.Recovered, now, score, cause);
        }

        var type = (from, to) switch
        {
            (_, Band.Red) => AlertKinds.EnteredRed,
            (Band.Green, Band.Yellow) => AlertKinds.EnteredYellow,
            _ when to > from => AlertKinds.Recovered,
            _ => null,
        };
        if (type is not null)
        {
            Raise(ref signals, state, model, now, type, before, score, from, to, cause, drivers, model.Alerts.CooldownHours);
        }
    }

    private static void SharpDrop(ref List<AlertSignal>? signals, AccountState state, ScoringModel model, DateTimeOffset now, double score)
    {
        var rules = model.Alerts.SharpDrop;
        var since = now.AddHours(-rules.WindowHours);
        double? peak = null;
        DateTimeOffset peakAt = default;
        var changes = state.Evaluation.Changes;
        for (var i = changes.Count - 1; i >= 0 && changes[i].At >= since; i--)
        {
            if (changes[i].From is { } from && (peak is null || from > peak))
            {
                (peak, peakAt) = (from, changes[i].At);
            }
        }
        var open = state.Alerts.IsOpen(AlertKinds.SharpDrop);
        if (peak is { } p && p - score >= rules.Points)
        {
            if (!open)
            {
                var eval = state.Evaluation;
                var cause = changes[^1].Cause;
                Raise(ref signals, state, model, now, AlertKinds.SharpDrop, p, score, Bands.Plain(p, model.Bands), eval.Band, cause,
                    TopDrivers(eval.Contributions, ContributionsAt(changes, peakAt, eval.Contributions)), model.Alerts.CooldownHours);
            }
        }
        else if (open && (peak is null || peak.Value - score < rules.Points / 2))
        {
            Clear(ref signals, state, AlertKinds.SharpDrop, now, score, "the score came back");
        }
    }

    private static void GoneSilent(ref List<AlertSignal>? signals, AccountState state, ScoringModel model, DateTimeOffset now, AlertContext context)
    {
        if (state.Usage.LastHumanAt is not { } last)
        {
            return;
        }
        var silentFor = now - last;
        var open = state.Alerts.IsOpen(AlertKinds.GoneSilent);
        if (silentFor >= TimeSpan.FromDays(model.Alerts.GoneSilent.Days))
        {
            if (!open && !context.SourceQuiet)
            {
                var eval = state.Evaluation;
                Raise(ref signals, state, model, now, AlertKinds.GoneSilent, eval.Score, eval.Score, eval.Band, eval.Band,
                    $"no human usage for {Math.Floor(silentFor.TotalDays)} days (last {last:yyyy-MM-dd})", ComponentDictionary.Empty, cooldownHours: 0);
            }
        }
        else if (open)
        {
            Clear(ref signals, state, AlertKinds.GoneSilent, now, state.Evaluation.Score, "usage resumed");
        }
    }

    private static void PaymentFailed(ref List<AlertSignal>? signals, AccountState state, ScoringModel model, DateTimeOffset now)
    {
        var billing = state.Billing;
        var track = state.Alerts;
        if (billing.PaymentOutstanding && billing.LastFailureAt is { } failed)
        {
            if (track.PaymentAlertedFor != failed && now - failed >= TimeSpan.FromHours(model.Alerts.PaymentFailedGraceHours))
            {
                track.PaymentAlertedFor = failed;
                var eval = state.Evaluation;
                Raise(ref signals, state, model, now, AlertKinds.PaymentFailed, eval.Score, eval.Score, eval.Band, eval.Band,
                    $"payment failed {failed:yyyy-MM-dd HH:mm}Z and not recovered within {model.Alerts.PaymentFailedGraceHours} hours",
                    ComponentDictionary.Empty, cooldownHours: 0);
            }
        }
        else if (track.IsOpen(AlertKinds.PaymentFailed))
        {
            Clear(ref signals, state, AlertKinds.PaymentFailed, now, state.Evaluation.Score, "payment recovered");
        }
    }

    private static void Expansion(ref List<AlertSignal>? signals, AccountState state, ScoreCard card, ScoringModel model, DateTimeOffset now)
    {
        var rules = model.Alerts.Expansion;
        var nps = state.Sentiment.Nps;
        SurveyResponse? latest = null;
        for (var i = 0; i < nps.Count; i++)
        {
            if (latest is not { } current || nps[i].At > current.At)
            {
                latest = nps[i];
            }
        }
        var usage = card[Component.Usage].Score;
        var holds = latest is { } r && r.Score >= rules.MinNps && usage is { } u && u >= rules.MinUsageScore;
        var open = state.Alerts.IsOpen(AlertKinds.ExpansionSignal);
        if (holds && !open)
        {
            var eval = state.Evaluation;
            Raise(ref signals, state, model, now, AlertKinds.ExpansionSignal, eval.Score, eval.Score, eval.Band, eval.Band,
                $"promoter (NPS {latest!.Value.Score}) with usage at {usage:0}", ComponentDictionary.Empty, rules.CooldownDays * 24);
        }
        else if (!holds && open)
        {
            Clear(ref signals, state, AlertKinds.ExpansionSignal, now, state.Evaluation.Score, "no longer a promoter with strong usage");
        }
    }

    private static void Raise(
        ref List<AlertSignal>? signals, AccountState state, ScoringModel model, DateTimeOffset now, string type,
        double? before, double? after, Band? bandBefore, Band? bandAfter, string cause, ComponentDictionary drivers, double cooldownHours)
    {
        var track = state.Alerts;
        var severity = AlertKinds.SeverityOf(type);
        // Critical news is never held back: the cooldown only tames the others.
        var cooling = severity != AlertKinds.Critical
            && track.FiredAt?.TryGetValue(type, out var fired) == true && now - fired < TimeSpan.FromHours(cooldownHours);
        AlertAction action;
        if (!cooling)
        {
            (track.FiredAt ??= new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal))[type] = now;
            action = AlertAction.Raise;
        }
        else if (track.IsOpen(type))
        {
            action = AlertAction.Update; // refresh the open alert, notify nobody
        }
        else
        {
            return; // it fired and was cleared within the cooldown: stay quiet
        }
        track.MarkOpen(type);
        (signals ??= []).Add(new AlertSignal(
            action, type, severity, now, before, after, bandBefore, bandAfter, cause, drivers, model.Alerts.PlaybookFor(type)));
    }

    private static void Clear(ref List<AlertSignal>? signals, AccountState state, string type, DateTimeOffset now, double? score, string cause)
    {
        if (!state.Alerts.MarkClosed(type))
        {
            return;
        }
        var band = state.Evaluation.Band;
        (signals ??= []).Add(new AlertSignal(AlertAction.Clear, type, AlertKinds.SeverityOf(type), now, score, score, band, band, cause, ComponentDictionary.Empty, []));
    }

    /// <summary>The three components that moved most between two sets of contributions.</summary>
    public static ComponentDictionary TopDrivers(ComponentDictionary now, ComponentDictionary before)
    {
        Span<double> delta = stackalloc double[5];
        for (var c = 0; c < 5; c++)
        {
            delta[c] = HealthScorer.Round((now.Get((Component)c) ?? 0) - (before.Get((Component)c) ?? 0));
        }
        var top = ComponentDictionary.Empty;
        for (var pick = 0; pick < 3; pick++)
        {
            var best = -1;
            for (var c = 0; c < 5; c++)
            {
                if (delta[c] != 0 && !top.Has((Component)c) && (best < 0 || Math.Abs(delta[c]) > Math.Abs(delta[best])))
                {
                    best = c;
                }
            }
            if (best < 0)
            {
                break;
            }
            top = top.With((Component)best, delta[best]);
        }
        return top;
    }

    private static string? LastBandCause(EvaluationState eval)
    {
        for (var i = eval.Changes.Count - 1; i >= 0; i--)
        {
            if (eval.Changes[i].FromBand != eval.Changes[i].ToBand)
            {
                return eval.Changes[i].Cause;
            }
        }
        return eval.Changes.Count > 0 ? eval.Changes[^1].Cause : null;
    }

    /// <summary>Contributions as they were at <paramref name="at"/>, rebuilt backwards from the recorded drivers.</summary>
    private static ComponentDictionary ContributionsAt(List<ScoreChange> changes, DateTimeOffset at, ComponentDictionary current)
    {
        var result = current;
        for (var i = changes.Count - 1; i >= 0 && changes[i].At >= at; i--)
        {
            result = result.Minus(changes[i].Drivers);
        }
        return result;
    }
}

/// <summary>What the alert state machine remembers of one account (part of its snapshot).</summary>
public sealed class AlertTrackState
{
    /// <summary>The band the last band alert (or the first score) confirmed.</summary>
    public Band? StableBand { get; set; }

    public double? StableScore { get => Compact.Number(_stableScore); set => _stableScore = value ?? double.NaN; }
    private double _stableScore = double.NaN;

    public ComponentDictionary StableContributions { get; set; }

    /// <summary>A different band the score has been in since <see cref="PendingSince"/>, waiting for the dwell.</summary>
    public Band? PendingBand { get; set; }

    public DateTimeOffset? PendingSince { get => Compact.Time(_pendingSince); set => _pendingSince = Compact.Ticks(value); }
    private long _pendingSince;

    /// <summary>When each type last raised (not updated) an alert: the cooldown counts from here. Null until the first.</summary>
    public Dictionary<string, DateTimeOffset>? FiredAt { get; set; }

    /// <summary>Types raised and not cleared by the account itself. Null while there are none (most accounts, most of the time).</summary>
    public List<string>? Open { get; set; }

    public bool IsOpen(string type) => Open?.Contains(type) == true;

    public void MarkOpen(string type)
    {
        Open ??= [];
        if (!Open.Contains(type))
        {
            Open.Add(type);
        }
    }

    /// <summary>False if it was not open.</summary>
    public bool MarkClosed(string type)
    {
        if (Open is null || !Open.Remove(type))
        {
            return false;
        }
        if (Open.Count == 0)
        {
            Open = null;
        }
        return true;
    }

    /// <summary>When the silence schedule was last told this account is due (see the account grain).</summary>
    public DateTimeOffset? SilenceDueReported { get => Compact.Time(_silenceDueReported); set => _silenceDueReported = Compact.Ticks(value); }
    private long _silenceDueReported;

    /// <summary>The payment failure already alerted, so one failure alerts once.</summary>
    public DateTimeOffset? PaymentAlertedFor { get => Compact.Time(_paymentAlertedFor); set => _paymentAlertedFor = Compact.Ticks(value); }
    private long _paymentAlertedFor;
}
