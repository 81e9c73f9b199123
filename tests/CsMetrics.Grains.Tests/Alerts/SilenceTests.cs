using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Grains.Alerts;
using CsMetrics.Scoring.Alerting;
using CsMetrics.Scoring.Events;
using CsMetrics.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace CsMetrics.Grains.Tests.Alerts;

/// <summary>
/// Silence is an event: with the fake clock stepped a day at a time, the silo's alert clock and the
/// silence schedule raise "gone silent" for an account that is not even active, and a whole
/// source going quiet raises one source alert instead.
/// </summary>
[Collection(ClusterTests.Name)]
public class SilenceTests(ClusterFixture fixture)
{
    private IAccountGrain Grain(string account) => fixture.Grains.GetGrain<IAccountGrain>(account);

    private IAlertInboxGrain Inbox => fixture.Grains.GetGrain<IAlertInboxGrain>(0);

    private AlertClock Clock => fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<AlertClock>();

    private Task<Alert[]> AlertsOf(string account) => Inbox.QueryAsync(new AlertQuery(null, null, null, account, null, 1000));

    private Task Use(string account, string source) =>
        Grain(account).IngestAsync(new EventBatch([Events.Login(fixture.Time.GetUtcNow()) with { Account = account, Source = source }]));

    /// <summary>Moves the clock a day and waits until the alert clock has run a round at the new time.</summary>
    private async Task NextDayAsync()
    {
        var before = Clock.Ticks;
        fixture.Time.Advance(TimeSpan.FromDays(1));
        for (var i = 0; i < 400 && Clock.Ticks == before; i++)
        {
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
        Assert.True(Clock.Ticks > before, "the alert clock did not run after the clock moved");
        // Notices travel through the outbox; give them a moment.
        await Task.Delay(100, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task SilenceSchedule_ReportsWhileASaveIsInFlight_GoOutTogetherInTheNextSave()
    {
        var shard = fixture.Grains.GetGrain<ISilenceRegistryGrain>(SilenceShards.Count - 1);
        var key = shard.GetGrainId().Key.ToString()!;
        var now = fixture.Time.GetUtcNow();
        await shard.SetDueAsync($"silence-first-{Guid.NewGuid():N}", now.AddDays(30));
        fixture.Storage.Stall(key);
        try
        {
            var first = shard.SetDueAsync($"silence-stalled-{Guid.NewGuid():N}", now.AddDays(30));
            await Task.Delay(200, TestContext.Current.CancellationToken);
            var before = fixture.Storage.Writes[key];
            // A burst of reports (a truncation round) while that save waits on storage.
            var burst = Enumerable.Range(0, 50).Select(i => shard.SetDueAsync($"silence-burst-{i}-{Guid.NewGuid():N}", now.AddDays(30))).ToArray();
            await Task.Delay(200, TestContext.Current.CancellationToken);
            Assert.False(first.IsCompleted);
            Assert.All(burst, b => Assert.False(b.IsCompleted)); // nobody returns before a save holding its change
            fixture.Storage.Release(key);
            await first;
            await Task.WhenAll(burst);
            // One more save carried all fifty; a save per report would have been fifty.
            Assert.Equal(before + 1, fixture.Storage.Writes[key]);
        }
        finally
        {
            fixture.Storage.Release(key);
        }
    }

    [Fact]
    public async Task SilenceSchedule_AQueuedReportReturnsBeforeTheSave_AFlushWaitsForIt_AndAFailedSaveIsMadeAgain()
    {
        var shard = fixture.Grains.GetGrain<ISilenceRegistryGrain>(SilenceShards.Count - 2);
        var key = shard.GetGrainId().Key.ToString()!;
        var now = fixture.Time.GetUtcNow();
        await shard.SetDueAsync($"silence-first-{Guid.NewGuid():N}", now.AddDays(30));
        var before = fixture.Storage.Writes[key];
        fixture.Storage.Stall(key);
        try
        {
            // Returns while the save that carries it waits on storage.
            await shard.QueueDueAsync($"silence-queued-{Guid.NewGuid():N}", now.AddDays(30)).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
            var flush = shard.FlushAsync();
            await Task.Delay(200, TestContext.Current.CancellationToken);
            Assert.False(flush.IsCompleted);

            fixture.Storage.Fail(key);
            await Assert.ThrowsAnyAsync<Exception>(() => flush);
            // What the failed save carried is still only in memory: the next flush saves it again.
            await shard.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
            Assert.Equal(before + 2, fixture.Storage.Writes[key]);
            // Nothing changed since: a flush has nothing to wait for.
            await shard.FlushAsync();
            Assert.Equal(before + 2, fixture.Storage.Writes[key]);
        }
        finally
        {
            fixture.Storage.Release(key);
        }
    }

    [Fact]
    public async Task ACheckpoint_DoesNotWaitForTheSilenceSchedulesSave_AndRecordsTheReportOnlyOnceSaved()
    {
        var account = $"silence-checkpoint-{Guid.NewGuid():N}";
        var shardKey = fixture.Grains.GetGrain<ISilenceRegistryGrain>(SilenceShards.For(account)).GetGrainId().Key.ToString()!;
        fixture.Storage.Stall(shardKey);
        try
        {
            await Use(account, "src-checkpoint");
            // The account's checkpoint is written while the schedule's save waits on storage.
            await Grain(account).FlushAsync().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
            await Use(account, "src-checkpoint");
            await Grain(account).FlushAsync().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
            // The schedule has not saved the report, so no checkpoint may claim it was made.
            Assert.Null(CsMetrics.Scoring.State.AccountStateSerializer.Deserialize(fixture.Storage.Snapshots[account]).Alerts.SilenceDueReported);
        }
        finally
        {
            fixture.Storage.Release(shardKey);
        }

        // Saved now: the account records it, and its next checkpoint holds it.
        DateTimeOffset? reported = null;
        for (var i = 0; i < 100 && reported is null; i++)
        {
            await Use(account, "src-checkpoint");
            await Grain(account).FlushAsync();
            reported = CsMetrics.Scoring.State.AccountStateSerializer.Deserialize(fixture.Storage.Snapshots[account]).Alerts.SilenceDueReported;
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
        Assert.NotNull(reported);
    }

    [Fact]
    public async Task AnInactiveAccount_GoesSilentOnTime_WhileItsSourceIsAlive()
    {
        var source = $"src-{Guid.NewGuid():N}";
        var silent = $"quiet-{Guid.NewGuid():N}";
        var keeper = $"busy-{Guid.NewGuid():N}";
        await Use(silent, source);
        await Use(keeper, source);
        await fixture.Cluster.DeactivateAsync(Grain(silent));

        for (var day = 1; day <= 13; day++)
        {
            await NextDayAsync();
            await Use(keeper, source); // the source keeps sending, for another account
            Assert.DoesNotContain(await AlertsOf(silent), a => a.Type == AlertKinds.GoneSilent);
        }
        await NextDayAsync(); // day 14: due
        var alert = Assert.Single(await AlertsOf(silent), a => a.Type == AlertKinds.GoneSilent);
        Assert.Equal(AlertKinds.Warning, alert.Severity);
        Assert.Contains("no human usage for 14 days", alert.Cause, StringComparison.Ordinal);
        Assert.NotEmpty(alert.Playbook);
        Assert.DoesNotContain(await AlertsOf(keeper), a => a.Type == AlertKinds.GoneSilent);

        // Usage resumes: the alert closes by itself.
        await Use(silent, source);
        for (var i = 0; i < 100 && (await AlertsOf(silent)).Single(a => a.Id == alert.Id).State != AlertStates.Resolved; i++)
        {
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
        var closed = (await AlertsOf(silent)).Single(a => a.Id == alert.Id);
        Assert.Equal(AlertStates.Resolved, closed.State);
        Assert.StartsWith("cleared automatically: usage resumed", closed.Resolution, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AWholeSourceGoingQuiet_RaisesOneSourceAlert_AndNoChurnAlerts()
    {
        var source = $"src-{Guid.NewGuid():N}";
        var accounts = Enumerable.Range(0, 6).Select(i => $"fed-{i}-{Guid.NewGuid():N}").ToArray();
        foreach (var account in accounts)
        {
            await Use(account, source);
        }
        await fixture.Cluster.DeactivateAsync(Grain(accounts[0]));

        for (var day = 1; day <= 16; day++)
        {
            await NextDayAsync();
        }

        var sourceAlerts = await AlertsOf(SourceMonitorGrain.AccountOf(source));
        var alert = Assert.Single(sourceAlerts);
        Assert.Equal(AlertKinds.SourceSilent, alert.Type);
        Assert.Contains(source, alert.Cause, StringComparison.Ordinal);
        foreach (var account in accounts)
        {
            Assert.DoesNotContain(await AlertsOf(account), a => a.Type == AlertKinds.GoneSilent);
        }

        // The source comes back: its alert clears.
        await Use(accounts[1], source);
        await NextDayAsync();
        Assert.Equal(AlertStates.Resolved, (await AlertsOf(SourceMonitorGrain.AccountOf(source))).Single().State);
    }
}
