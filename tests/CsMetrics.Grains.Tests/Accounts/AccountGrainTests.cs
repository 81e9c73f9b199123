using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Scoring.Events;
using CsMetrics.Grains.Accounts;
using CsMetrics.Scoring.Alerting;
using CsMetrics.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CsMetrics.Grains.Tests.Accounts;

[Collection(ClusterTests.Name)]
public class AccountGrainTests(ClusterFixture fixture)
{
    private static string NewAccount() => $"acct-{Guid.NewGuid():N}";

    private static HealthEvent[] For(string account, IEnumerable<HealthEvent> events) =>
        [.. events.Select(e => e with { Account = account })];

    private IAccountGrain Grain(string account) => fixture.Grains.GetGrain<IAccountGrain>(account);

    private Task<Alert[]> AlertsOf(string account) =>
        fixture.Grains.GetGrain<IAlertInboxGrain>(0).QueryAsync(new AlertQuery(null, null, null, account, null, 1000));

    /// <summary>Alerts reach the inbox through the silo's outbox, a moment after the call that raised them.</summary>
    private async Task<Alert> WaitForAlertAsync(string account, string type)
    {
        for (var i = 0; i < 200; i++)
        {
            if ((await AlertsOf(account)).FirstOrDefault(a => a.Type == type) is { } alert)
            {
                return alert;
            }
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
        throw new Xunit.Sdk.XunitException($"no {type} alert for {account} within 5 s; it has: {string.Join(", ", (await AlertsOf(account)).Select(a => a.Type))}");
    }

    [Fact]
    public async Task IngestAsync_NewEvents_AppliesThemAndScores()
    {
        var account = NewAccount();
        var events = For(account, Events.HealthyMonth(fixture.Time.GetUtcNow()));
        var result = await Grain(account).IngestAsync(new EventBatch(events));
        Assert.Equal(events.Length, result.Applied);
        Assert.NotNull(result.Change);
        Assert.Null(result.Change.From);
        Assert.Equal("green", result.Change.Band);

        var view = await Grain(account).GetAsync();
        Assert.NotNull(view);
        Assert.Equal(events.Length, view.EventCount);
        Assert.Equal("green", view.Band);
        Assert.Equal(result.Change.To, view.Score);
    }

    [Fact]
    public async Task ACheckpointStalledInStorage_DoesNotHoldTheAccount()
    {
        var ct = TestContext.Current.CancellationToken;
        var account = NewAccount();
        var now = fixture.Time.GetUtcNow();
        var grain = Grain(account);
        await grain.IngestAsync(new EventBatch(For(account, [Events.Login(now.AddHours(-2), "first")])));
        fixture.Storage.Stall(account);
        try
        {
            var flushing = grain.FlushAsync();
            await Task.Delay(200, ct);
            Assert.False(flushing.IsCompleted, "the checkpoint should be waiting on storage");

            // While its checkpoint waits on storage, the account takes events and answers reads.
            var second = await grain.IngestAsync(new EventBatch(For(account, [Events.Login(now.AddHours(-1), "second")]))).WaitAsync(TimeSpan.FromSeconds(5), ct);
            Assert.Equal(1, second.Applied);
            var view = await grain.GetAsync().WaitAsync(TimeSpan.FromSeconds(5), ct);
            Assert.Equal(2, view!.EventCount);

            // A second flush asked meanwhile returns only once a checkpoint with the second event is written.
            var again = grain.FlushAsync();
            fixture.Storage.Release(account);
            await flushing.WaitAsync(TimeSpan.FromSeconds(5), ct);
            await again.WaitAsync(TimeSpan.FromSeconds(5), ct);
        }
        finally
        {
            fixture.Storage.Release(account);
        }

        // Storage got the state with both events from the flushes, not from a deactivation.
        Assert.Equal(2, CsMetrics.Scoring.State.AccountStateSerializer.Deserialize(fixture.Storage.Snapshots[account]).EventCount);
    }

    [Fact]
    public async Task AReadWaitingForTheAlertInbox_DoesNotHoldTheAccount()
    {
        var ct = TestContext.Current.CancellationToken;
        var account = NewAccount();
        var now = fixture.Time.GetUtcNow();
        var grain = Grain(account);
        await grain.IngestAsync(new EventBatch(For(account, [Events.Login(now.AddHours(-2), "first")])));
        fixture.Inbox.Stall(account);
        Task<AccountView?> reading;
        try
        {
            reading = grain.GetAsync();
            await fixture.Inbox.ArrivedAsync(account).WaitAsync(TimeSpan.FromSeconds(5), ct);

            // While the read waits for the account's alerts, the account takes events.
            var second = await grain.IngestAsync(new EventBatch(For(account, [Events.Login(now.AddHours(-1), "second")]))).WaitAsync(TimeSpan.FromSeconds(5), ct);
            Assert.Equal(1, second.Applied);
            Assert.False(reading.IsCompleted, "the read should still be waiting for the inbox");
        }
        finally
        {
            fixture.Inbox.Release(account);
        }

        // The read shows the account as it was when it was asked, whole: one event, and its score for it.
        var view = await reading.WaitAsync(TimeSpan.FromSeconds(5), ct);
        Assert.Equal(1, view!.EventCount);
        Assert.Equal(2, (await grain.GetAsync())!.EventCount);
    }

    [Fact]
    public async Task IngestAsync_SameBatchTwice_CountsItOnce()
    {
        var account = NewAccount();
        var batch = new EventBatch(For(account, Events.HealthyMonth(fixture.Time.GetUtcNow())));
        await Grain(account).IngestAsync(batch);
        var again = await Grain(account).IngestAsync(batch);
        Assert.Equal(0, again.Applied);
        Assert.Equal(batch.Events.Length, again.Duplicates);
        Assert.Null(again.Change);
        Assert.Equal(batch.Events.Length, (await Grain(account).GetAsync())!.EventCount);
    }

    [Fact]
    public async Task GetAsync_UnknownAccount_ReturnsNull()
    {
        Assert.Null(await Grain(NewAccount()).GetAsync());
    }

    [Fact]
    public async Task State_SurvivesDeactivation()
    {
        var account = NewAccount();
        await Grain(account).IngestAsync(new EventBatch(For(account, Events.ChurningAccount(fixture.Time.GetUtcNow()))));
        var before = await Grain(account).GetAsync();
        await fixture.Cluster.DeactivateAsync(Grain(account));
        var after = await Grain(account).GetAsync();
        Assert.Equal(before!.EventCount, after!.EventCount);
        Assert.Equal(before.Score, after.Score);
        Assert.Equal(before.Changes.Length, after.Changes.Length);
        Assert.Equal(before.OpenAlerts.Select(a => a.Id), after.OpenAlerts.Select(a => a.Id));
    }

    [Fact]
    public async Task GetAsync_AfterTimePasses_ShowsTheDecayAndWhy()
    {
        var account = NewAccount();
        await Grain(account).IngestAsync(new EventBatch(For(account, Events.HealthyMonth(fixture.Time.GetUtcNow()))));
        var before = await Grain(account).GetAsync();
        fixture.Time.Advance(TimeSpan.FromDays(10));
        var after = await Grain(account).GetAsync();
        Assert.True(after!.Score < before!.Score, $"{after.Score} !< {before.Score}");
        Assert.Equal("time passed", after.Changes[0].Cause);
        Assert.True(after.Changes[0].Drivers["usage"] < 0);
        Assert.StartsWith($"{before.Score:0.#} -> {after.Score:0.#}: time passed, usage -", after.Explanation, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Crossing_IntoRed_RaisesOneCriticalAlertInTheAccountsShard()
    {
        var account = NewAccount();
        var healthy = await Grain(account).IngestAsync(new EventBatch(For(account, Events.HealthyMonth(fixture.Time.GetUtcNow()))));
        Assert.Equal("green", healthy.Change!.Band);
        fixture.Time.Advance(TimeSpan.FromDays(40));
        var now = fixture.Time.GetUtcNow();
        var result = await Grain(account).IngestAsync(new EventBatch(For(account, Events.ChurningAccount(now))));
        Assert.Equal("red", result.Change!.Band);

        // More bad news while already red: no second alert.
        await Grain(account).IngestAsync(new EventBatch(For(account, [Events.TicketEscalated(now.AddMinutes(-1), "T-1")])));

        await WaitForAlertAsync(account, AlertKinds.EnteredRed);
        await Task.Delay(100, TestContext.Current.CancellationToken); // anything else raised would have arrived by now
        var alerts = await AlertsOf(account);
        var red = Assert.Single(alerts, a => a.Type == AlertKinds.EnteredRed);
        Assert.Equal(AlertKinds.Critical, red.Severity);
        Assert.Equal("red", red.BandAfter);
        Assert.Equal("green", red.BandBefore);
        Assert.True(red.ScoreAfter < 60);
        Assert.NotEmpty(red.Playbook);
        Assert.Equal(AlertStates.Open, red.State);

        var view = await Grain(account).GetAsync();
        Assert.Equal(red.Id, Assert.Single(view!.OpenAlerts, a => a.Type == AlertKinds.EnteredRed).Id);
    }

    [Fact]
    public async Task Timer_Silence_LowersTheScoreAndAlertsWithNoCallToTheAccount()
    {
        var account = NewAccount();
        var now = fixture.Time.GetUtcNow();
        // Only usage, so silence alone drives the score down through yellow into red.
        string[] features = ["reports", "dashboards", "alerts", "exports", "api"];
        List<HealthEvent> usage = [.. Enumerable.Range(0, 28).SelectMany(d => new[]
        {
            Events.Login(now.AddDays(-d).AddHours(-1)),
            Events.Feature(now.AddDays(-d).AddHours(-1), features[d % features.Length]),
            Events.Workflow(now.AddDays(-d).AddHours(-1)),
        })];
        var first = await Grain(account).IngestAsync(new EventBatch(For(account, usage)));
        Assert.Equal("green", first.Change!.Band);

        Alert? alert = null;
        for (var hour = 0; hour < 24 * 30 && alert is null; hour += 6)
        {
            fixture.Time.Advance(TimeSpan.FromHours(6));
            await Task.Delay(20, TestContext.Current.CancellationToken);
            alert = (await AlertsOf(account)).FirstOrDefault(a => a.Type == AlertKinds.EnteredRed);
        }
        Assert.NotNull(alert);
        Assert.Equal("time passed", alert.Cause);
    }

    [Fact]
    public async Task History_KeepsAPointADay_AndEveryBandChangeWithItsCause()
    {
        var account = NewAccount();
        var start = fixture.Time.GetUtcNow();
        await Grain(account).IngestAsync(new EventBatch(For(account, Events.HealthyMonth(start))));
        fixture.Time.Advance(TimeSpan.FromDays(1));
        await Grain(account).IngestAsync(new EventBatch(For(account, Events.ChurningAccount(fixture.Time.GetUtcNow()))));
        fixture.Time.Advance(TimeSpan.FromDays(1));
        await Grain(account).ReevaluateAsync();

        var history = await Grain(account).HistoryAsync();
        Assert.NotNull(history);
        Assert.True(history.Daily.Length >= 3, $"{history.Daily.Length} daily points");
        var dates = history.Daily.Select(d => DateOnly.Parse(d.Date, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(dates.Order().Distinct(), dates); // one a day, in order
        Assert.Equal(DateOnly.FromDateTime(fixture.Time.GetUtcNow().UtcDateTime), dates[^1]);
        var view = await Grain(account).GetAsync();
        Assert.Equal(view!.Band, history.Daily[^1].Band);
        var fall = Assert.Single(history.BandChanges, b => b.FromBand == "green");
        Assert.NotEqual("green", fall.ToBand);
        Assert.False(string.IsNullOrWhiteSpace(fall.Cause));
        Assert.Null(history.BandChanges[0].FromBand); // where the account started
        Assert.Null(await Grain(NewAccount()).HistoryAsync());
    }

    [Fact]
    public async Task Schedule_HoldsAnAccountWhileItIsActive_AndDropsItOnDeactivation()
    {
        var account = NewAccount();
        var schedule = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<ReevaluationSchedule>();
        Assert.False(schedule.Contains(account));

        await Grain(account).IngestAsync(new EventBatch(For(account, [Events.Login(fixture.Time.GetUtcNow())])));
        Assert.True(schedule.Contains(account));

        await fixture.Cluster.DeactivateAsync(Grain(account));
        Assert.False(schedule.Contains(account));
        // The state survived the deactivation (checkpointed on the way out), and the account is back on the schedule.
        Assert.Equal(1, (await Grain(account).GetAsync())!.EventCount);
        Assert.True(schedule.Contains(account));
    }
}
