using CsMetrics.Testing;
using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;
using static CsMetrics.Testing.Events;

namespace CsMetrics.Scoring.Tests.Engine;

public class AccountEngineTests
{
    [Fact]
    public void Apply_SameBatchTwice_CountsItOnce()
    {
        var state = new AccountState();
        var batch = HealthyMonth(Now);
        var first = AccountEngine.Apply(state, batch, Models.Replay, Now);
        var snapshot = AccountStateSerializer.Serialize(state);
        var second = AccountEngine.Apply(state, batch, Models.Replay, Now);
        Assert.Equal(batch.Count, first.Applied);
        Assert.Equal(0, second.Applied);
        Assert.Equal(batch.Count, second.Duplicates);
        Assert.Null(second.Change);
        Assert.Equal(batch.Count, state.EventCount);
        Assert.Equal(snapshot, AccountStateSerializer.Serialize(state));
    }

    [Fact]
    public void Apply_EventOlderThanTheGraceWindow_IsKeptAsLateNotApplied()
    {
        var state = new AccountState();
        var result = AccountEngine.Apply(state, [Login(Now.AddHours(-73)), Login(Now.AddHours(-1))], ScoringModel.Default, Now);
        Assert.Equal(1, result.Applied);
        Assert.Equal(1, result.Late);
        Assert.Equal(1, state.EventCount);
        Assert.Equal(1, state.LateEventCount);
    }

    [Fact]
    public void Apply_Escalation_ExplainsTheChangeWithItsCauseAndDriver()
    {
        var state = new AccountState();
        AccountEngine.Apply(state, HealthyMonth(Now), Models.Replay, Now);
        var result = AccountEngine.Apply(state, [TicketOpened(Now.AddMinutes(-30), "T-123", "urgent"), TicketEscalated(Now.AddMinutes(-10), "T-123")], Models.Replay, Now);
        var change = Assert.IsType<ScoreChange>(result.Change);
        Assert.Equal("ticket T-123 escalated (+1 more events)", change.Cause);
        Assert.True(change.To < change.From);
        Assert.True(change.Drivers["support"] < 0);
        Assert.Equal(change, state.Evaluation.Changes[^1]);
    }

    [Fact]
    public void Apply_BatchWithADuplicateFirst_NamesOnlyTheEventsApplied()
    {
        var state = new AccountState();
        AccountEngine.Apply(state, HealthyMonth(Now), Models.Replay, Now);
        var opened = TicketOpened(Now.AddMinutes(-30), "T-7", "urgent");
        AccountEngine.Apply(state, [opened], Models.Replay, Now);
        // Given newest first: applied in event-time order, the repeat of the opening skipped.
        var result = AccountEngine.Apply(state, [TicketEscalated(Now.AddMinutes(-10), "T-7"), opened], Models.Replay, Now);
        Assert.Equal((1, 1), (result.Applied, result.Duplicates));
        var change = Assert.IsType<ScoreChange>(result.Change);
        Assert.Equal("ticket T-7 escalated", change.Cause);
    }

    [Fact]
    public void Apply_CrossingIntoRed_ReportsTheCrossingOnce()
    {
        var state = new AccountState();
        AccountEngine.Apply(state, HealthyMonth(Now), Models.Replay, Now);
        Assert.Equal(Band.Green, state.Evaluation.Band);
        var later = Now.AddDays(40);
        List<Scoring.Events.HealthEvent> trouble = [PaymentFailed(later.AddHours(-3)), Nps(later.AddHours(-2), 1),
            .. Enumerable.Range(1, 3).SelectMany(t => new[] { TicketOpened(later.AddHours(-2), $"X-{t}", "urgent"), TicketEscalated(later.AddHours(-1), $"X-{t}") })];
        var result = AccountEngine.Apply(state, trouble, Models.Replay, later);
        Assert.NotNull(result.Crossing);
        Assert.Equal(Band.Red, result.Crossing.To);
        Assert.Equal(Band.Green, result.Crossing.From);
        Assert.Null(AccountEngine.Reevaluate(state, Models.Replay, later).Crossing);
    }

    [Fact]
    public void Reevaluate_Silence_LowersTheScoreAndSaysTimePassed()
    {
        var state = new AccountState();
        AccountEngine.Apply(state, HealthyMonth(Now), Models.Replay, Now);
        var result = AccountEngine.Reevaluate(state, Models.Replay, Now.AddDays(10));
        var change = Assert.IsType<ScoreChange>(result.Change);
        Assert.Equal(AccountEngine.TimePassedCause, change.Cause);
        Assert.True(change.To < change.From);
        Assert.True(change.Drivers["usage"] < 0);
    }

    [Fact]
    public void Apply_MoreIdsThanTheCap_TreatsOlderEventsAsLateRatherThanRiskADoubleCount()
    {
        var model = Models.With(m => m["ingest"]!["dedupMaxIds"] = 16);
        var state = new AccountState();
        var events = Enumerable.Range(0, 40).Select(i => Login(Now.AddMinutes(-100 + i), id: $"id-{i}")).ToList();
        AccountEngine.Apply(state, events, model, Now);
        Assert.Equal(40, state.EventCount);
        Assert.Equal(16, state.Dedup.Count);
        var retry = AccountEngine.Apply(state, events, model, Now);
        Assert.Equal(0, retry.Applied);
        Assert.Equal(40, state.EventCount);
        Assert.Equal(16, retry.Duplicates);
        Assert.Equal(24, retry.Late);
    }

    [Fact]
    public void Changes_AreBoundedByTheModel()
    {
        var state = new AccountState();
        for (var d = 60; d > 0; d--)
        {
            AccountEngine.Apply(state, [Login(Now.AddDays(-d)), TicketOpened(Now.AddDays(-d), $"T-{d}"), Nps(Now.AddDays(-d), d % 2 == 0 ? 0 : 10)], ScoringModel.Default, Now.AddDays(-d).AddHours(1));
        }
        Assert.Equal(ScoringModel.Default.Evaluation.MaxChanges, state.Evaluation.Changes.Count);
        Assert.True(state.Support.Tickets.Count <= ScoringModel.Default.Support.MaxTickets);
        Assert.True(state.Usage.Days.Count <= ScoringModel.Default.Usage.WindowDays);
    }

    [Fact]
    public void Serializer_RoundTripsTheWholeState()
    {
        var state = new AccountState();
        List<HealthEvent> events = [.. HealthyMonth(Now), .. ChurningAccount(Now)];
        AccountEngine.Apply(state, events, Models.Replay, Now);
        var bytes = AccountStateSerializer.Serialize(state);
        var copy = AccountStateSerializer.Deserialize(bytes);
        Assert.Equal(bytes, AccountStateSerializer.Serialize(copy));
        Assert.Equal(HealthScorer.Score(state, Models.Replay, Now).Score, HealthScorer.Score(copy, Models.Replay, Now).Score);
        Assert.Equal(state.Dedup.Count, copy.Dedup.Count);
        Assert.All(events, e => Assert.True(copy.Dedup.Contains(e.Id)));
        Assert.False(copy.Dedup.Contains("never-sent"));
    }

    [Fact]
    public void Serializer_ReadsSchemaOneSnapshots_WithTheIdsThemselves()
    {
        // A schema-1 snapshot kept each event id as a string.
        var stored = """{"schemaVersion":1,"account":"acme","eventCount":2,"dedup":{"ids":[{"id":"e-1","at":"2026-11-23T10:00:00+00:00"},{"id":"e-2","at":"2026-11-23T11:00:00+00:00"}]}}"""u8;

        var state = AccountStateSerializer.Deserialize(stored);

        Assert.Equal(AccountState.CurrentSchemaVersion, state.SchemaVersion);
        Assert.Equal(2, state.Dedup.Count);
        Assert.True(state.Dedup.Contains("e-1"));
        Assert.True(state.Dedup.Contains("e-2"));
        var retry = AccountEngine.Apply(state, [Login(Now.AddHours(-1), id: "e-2")], Models.Replay, Now);
        Assert.Equal(1, retry.Duplicates);
        Assert.Equal(2, state.EventCount);
    }

    [Fact]
    public void Serializer_ANewerSchema_IsRefusedByName()
    {
        var e = Assert.Throws<System.Text.Json.JsonException>(() => AccountStateSerializer.Deserialize("""{"schemaVersion":99}"""u8));
        Assert.Contains("schemaVersion", e.Message);
    }
}
