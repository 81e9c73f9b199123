using CsMetrics.Contracts.Alerts;
using CsMetrics.Grains.Alerts;
using CsMetrics.Scoring.Alerting;
using Microsoft.Extensions.DependencyInjection;

namespace CsMetrics.Grains.Tests.Alerts;

/// <summary>The inbox grain: one open alert per account and type, transitions, escalation, snooze, the change log.</summary>
[Collection(ClusterTests.Name)]
public class AlertInboxTests(ClusterFixture fixture)
{
    private IAlertInboxGrain Inbox => fixture.Grains.GetGrain<IAlertInboxGrain>(0);

    private static string NewAccount() => $"inbox-{Guid.NewGuid():N}";

    private AlertNotice Notice(string account, string action, string type = AlertKinds.EnteredRed, double score = 50, string cause = "test") =>
        new(account, action, type, AlertKinds.SeverityOf(type), fixture.Time.GetUtcNow(), 75, score, "yellow", "red", cause,
            new Dictionary<string, double> { ["support"] = -12 }, ["call them"], null);

    private async Task<Alert[]> Of(string account) => await Inbox.QueryAsync(new AlertQuery(null, null, null, account, null, 100));

    [Fact]
    public async Task ANewTrigger_UpdatesTheOpenAlert_NotASecondOne_AndAfterItIsClearedANewOneOpens()
    {
        var account = NewAccount();
        await Inbox.SubmitAsync([Notice(account, AlertNotice.Raise, score: 55)]);
        await Inbox.SubmitAsync([Notice(account, AlertNotice.Raise, score: 41, cause: "ticket T-9 escalated")]);
        await Inbox.SubmitAsync([Notice(account, AlertNotice.Update, score: 38)]);
        var alert = Assert.Single(await Of(account));
        Assert.Equal((3, 38.0, Alert.Changes.Updated), (alert.Triggers, alert.ScoreAfter!.Value, alert.Change));
        Assert.Equal(75, alert.ScoreBefore);

        await Inbox.SubmitAsync([Notice(account, AlertNotice.Clear, cause: "recovered")]);
        Assert.Equal(AlertStates.Resolved, Assert.Single(await Of(account)).State);
        // An update with nothing open is nothing (the cooldown held it back from a new alert).
        await Inbox.SubmitAsync([Notice(account, AlertNotice.Update)]);
        Assert.Single(await Of(account));

        await Inbox.SubmitAsync([Notice(account, AlertNotice.Raise)]);
        var all = await Of(account);
        Assert.Equal(2, all.Length);
        Assert.Single(all, a => a.State == AlertStates.Open);
    }

    [Fact]
    public async Task ARaiseAndAClearInOneBatch_AreTwoChanges_AndRaiseClearRaiseClearLeavesNothingOpen()
    {
        var account = NewAccount();
        var before = await Inbox.LastSequenceAsync();
        await Inbox.SubmitAsync([
            Notice(account, AlertNotice.Raise), Notice(account, AlertNotice.Clear),
            Notice(account, AlertNotice.Raise), Notice(account, AlertNotice.Clear)]);
        var changes = (await Inbox.ReadAfterAsync(before, 100)).Where(c => c.Account == account).ToArray();
        Assert.Equal([Alert.Changes.Raised, Alert.Changes.Resolved, Alert.Changes.Raised, Alert.Changes.Resolved], changes.Select(c => c.Change));
        var alerts = await Of(account);
        Assert.Equal(2, alerts.Length);
        Assert.All(alerts, a => Assert.Equal(AlertStates.Resolved, a.State));
    }

    [Fact]
    public async Task Transitions_AckAssignSnoozeResolve_AndAResolvedAlertRefusesMore()
    {
        var account = NewAccount();
        await Inbox.SubmitAsync([Notice(account, AlertNotice.Raise)]);
        var id = Assert.Single(await Of(account)).Id;

        var acked = await Inbox.TransitionAsync(id, new AlertCommand(AlertCommand.Acknowledge, null, null, null));
        Assert.Equal((AlertStates.Acknowledged, fixture.Time.GetUtcNow()), (acked.Alert!.State, acked.Alert.AcknowledgedAt!.Value));
        var assigned = await Inbox.TransitionAsync(id, new AlertCommand(AlertCommand.Assign, "renewals team", null, null));
        Assert.Equal("renewals team", assigned.Alert!.Owner);
        Assert.Single(await Inbox.QueryAsync(new AlertQuery(null, null, null, null, "renewals team", 10)), a => a.Id == id);

        var past = await Inbox.TransitionAsync(id, new AlertCommand(AlertCommand.Snooze, null, fixture.Time.GetUtcNow().AddMinutes(-1), null));
        Assert.StartsWith("until:", past.Error, StringComparison.Ordinal);

        var resolved = await Inbox.TransitionAsync(id, new AlertCommand(AlertCommand.Resolve, null, null, "customer called back"));
        Assert.Equal((AlertStates.Resolved, "customer called back"), (resolved.Alert!.State, resolved.Alert.Resolution));
        var refused = await Inbox.TransitionAsync(id, new AlertCommand(AlertCommand.Acknowledge, null, null, null));
        Assert.StartsWith("state:", refused.Error, StringComparison.Ordinal);
        Assert.Null((await Inbox.TransitionAsync("al-does-not-exist", new AlertCommand(AlertCommand.Resolve, null, null, null))).Alert);

        // Every change is in the log, in order.
        var changes = await Inbox.ReadAfterAsync(0, 100_000);
        var mine = changes.Where(c => c.Id == id).Select(c => c.Change).ToArray();
        Assert.Equal([Alert.Changes.Raised, Alert.Changes.Acknowledged, Alert.Changes.Assigned, Alert.Changes.Resolved], mine);
        Assert.Equal(changes.Select(c => c.Sequence).Order(), changes.Select(c => c.Sequence));
    }

    [Fact]
    public async Task AnUnacknowledgedCriticalAlert_Escalates_AnAcknowledgedOneDoesNot_AndASnoozeEnds()
    {
        var ignored = NewAccount();
        var handled = NewAccount();
        var snoozed = NewAccount();
        await Inbox.SubmitAsync([Notice(ignored, AlertNotice.Raise), Notice(handled, AlertNotice.Raise), Notice(snoozed, AlertNotice.Raise)]);
        var handledId = Assert.Single(await Of(handled)).Id;
        await Inbox.TransitionAsync(handledId, new AlertCommand(AlertCommand.Acknowledge, null, null, null));
        var snoozedId = Assert.Single(await Of(snoozed)).Id;
        await Inbox.TransitionAsync(snoozedId, new AlertCommand(AlertCommand.Snooze, null, fixture.Time.GetUtcNow().AddMinutes(30), null));

        fixture.Time.Advance(TimeSpan.FromMinutes(61)); // escalation after 60 minutes (the shipped model)
        await Inbox.TickAsync();

        var escalation = Assert.Single(await Of(ignored), a => a.Type == AlertKinds.Escalated);
        var original = Assert.Single(await Of(ignored), a => a.Type == AlertKinds.EnteredRed);
        Assert.Equal(original.Id, escalation.EscalationOf);
        Assert.Equal((AlertKinds.Critical, ClusterFixture.Model.Alerts.Escalation.Target), (escalation.Severity, escalation.Owner));
        Assert.NotNull(original.EscalatedAt);
        Assert.DoesNotContain(await Of(handled), a => a.Type == AlertKinds.Escalated);

        var reopened = Assert.Single(await Of(snoozed));
        Assert.Equal((AlertStates.Open, Alert.Changes.Reopened), (reopened.State, reopened.Change));

        // It escalates once; acknowledging the original closes its escalation.
        fixture.Time.Advance(TimeSpan.FromMinutes(61));
        await Inbox.TickAsync();
        Assert.Single(await Of(ignored), a => a.Type == AlertKinds.Escalated);
        await Inbox.TransitionAsync(original.Id, new AlertCommand(AlertCommand.Acknowledge, null, null, null));
        Assert.Equal(AlertStates.Resolved, Assert.Single(await Of(ignored), a => a.Type == AlertKinds.Escalated).State);

        // A snoozed critical alert that reopens does not escalate: a person has seen it.
        fixture.Time.Advance(TimeSpan.FromMinutes(61));
        await Inbox.TickAsync();
        Assert.DoesNotContain(await Of(snoozed), a => a.Type == AlertKinds.Escalated);
    }

    [Fact]
    public async Task TheOutbox_DeliversNoticesInOrder_AndSaysWhenTheyAreIn()
    {
        var outbox = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<AlertOutbox>();
        var account = NewAccount();
        for (var i = 0; i < 50; i++)
        {
            outbox.Enqueue(Notice(account, AlertNotice.Raise, score: 50 - i * 0.1));
        }
        await outbox.DeliveredAsync().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var alert = Assert.Single(await Of(account));
        Assert.Equal(50, alert.Triggers);
        Assert.Equal(45.1, alert.ScoreAfter!.Value, 6);
    }
}
