using Microsoft.Extensions.DependencyInjection;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Scoring.Alerting;
using CsMetrics.Scoring.Model;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// Tracks when each source last sent anything (arrival time at a node, not event time: a backend
/// replaying history is alive) and raises one <c>source_silent</c> ops alert when a source that
/// was sending stops for <c>alerts.goneSilent.sourceQuietHours</c>; clears it when the source
/// sends again. See <see cref="ISourceMonitorGrain"/>.
/// </summary>
public sealed class SourceMonitorGrain(
    [PersistentState("sources", StorageNames.Default)] IPersistentState<SourceMonitorState> state,
    ScoringModel model,
    [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time) : Grain, ISourceMonitorGrain
{
    /// <summary>The account field of a source alert: it is about the feed, not a customer.</summary>
    public static string AccountOf(string source) => $"source:{source}";

    public async Task ReportAsync(Dictionary<string, DateTimeOffset> lastSeen)
    {
        var changed = false;
        foreach (var (source, at) in lastSeen)
        {
            if (!state.State.LastSeen.TryGetValue(source, out var current) || at > current)
            {
                state.State.LastSeen[source] = at;
                changed = true;
            }
        }
        if (changed)
        {
            await state.WriteStateAsync();
        }
    }

    public async Task<string[]> TickAsync()
    {
        var now = time.GetUtcNow();
        var quietAfter = TimeSpan.FromHours(model.Alerts.GoneSilent.SourceQuietHours);
        var notices = new List<AlertNotice>();
        var nowQuiet = new List<string>();
        var nowAlive = new List<string>();
        foreach (var (source, seen) in state.State.LastSeen)
        {
            var quiet = now - seen >= quietAfter;
            if (quiet && !state.State.Quiet.Contains(source))
            {
                nowQuiet.Add(source);
                notices.Add(Notice(AlertNotice.Raise, source, now,
                    $"source \"{source}\" sent no event for {(now - seen).TotalHours:0} hours (last {seen:yyyy-MM-dd HH:mm}Z); its accounts' silence is not counted as churn"));
            }
            else if (!quiet && state.State.Quiet.Contains(source))
            {
                nowAlive.Add(source);
                notices.Add(Notice(AlertNotice.Clear, source, now, $"source \"{source}\" is sending again"));
            }
        }
        if (notices.Count > 0)
        {
            // The alert first: if it cannot be handed over, nothing changes and the next tick tries again.
            await GrainFactory.GetGrain<IAlertInboxGrain>(0).SubmitAsync([.. notices]);
            state.State.Quiet.UnionWith(nowQuiet);
            state.State.Quiet.ExceptWith(nowAlive);
            await state.WriteStateAsync();
        }
        return [.. state.State.Quiet];
    }

    public Task<string[]> QuietSourcesAsync() => Task.FromResult<string[]>([.. state.State.Quiet]);

    private AlertNotice Notice(string action, string source, DateTimeOffset now, string cause) => new(
        AccountOf(source), action, AlertKinds.SourceSilent, AlertKinds.SeverityOf(AlertKinds.SourceSilent), now,
        null, null, null, null, cause, [], [.. model.Alerts.PlaybookFor(AlertKinds.SourceSilent)], null);
}

[GenerateSerializer, Alias("csm.SourceMonitorState")]
public sealed class SourceMonitorState
{
    [Id(0)] public Dictionary<string, DateTimeOffset> LastSeen { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Sources alerted as quiet and not heard from since.</summary>
    [Id(1)] public HashSet<string> Quiet { get; set; } = new(StringComparer.Ordinal);
}
