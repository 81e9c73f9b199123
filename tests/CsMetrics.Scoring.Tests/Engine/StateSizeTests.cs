using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;
using static CsMetrics.Testing.Events;

namespace CsMetrics.Scoring.Tests.Engine;

/// <summary>State is aggregates, not history: its size is bounded whatever the event volume.</summary>
public class StateSizeTests
{
    [Fact]
    public void Snapshot_TypicalAccount_IsAFewKilobytes()
    {
        var state = new AccountState();
        // A month of activity delivered day by day, as it would arrive in production.
        foreach (var day in HealthyMonth(Now).GroupBy(e => e.Timestamp.Date).OrderBy(g => g.Key))
        {
            AccountEngine.Apply(state, [.. day], ScoringModel.Default, day.Max(e => e.Timestamp).AddMinutes(5));
        }
        var snapshot = AccountStateSerializer.Serialize(state);
        var bytes = snapshot.Length;
        TestContext.Current.TestOutputHelper?.WriteLine($"typical account snapshot: {bytes} bytes");
        // About 1 KB of it is the score history (a point a day, the band changes) and the alert memory.
        Assert.InRange(bytes, 1, 10 * 1024);
        var restored = AccountStateSerializer.Deserialize(snapshot);
        Assert.True(state.History.Days!.Count >= 20, $"{state.History.Days.Count} daily points");
        Assert.Equal(state.History.Days.Select(d => (d.Day, MathF.Round(d.Score, 1), d.Band)), restored.History.Days!.Select(d => (d.Day, d.Score, d.Band)));
        Assert.Equal(state.History.BandChanges, restored.History.BandChanges);
        Assert.Equal(state.Evaluation.Changes, restored.Evaluation.Changes);
    }

    [Fact]
    public void Snapshot_TheFirstChange_KeepsItsMissingScoreAndBandThroughARoundTrip()
    {
        var state = new AccountState();
        AccountEngine.Apply(state, [Login(Now.AddHours(-1))], ScoringModel.Default, Now);
        var restored = AccountStateSerializer.Deserialize(AccountStateSerializer.Serialize(state));
        var first = Assert.Single(restored.Evaluation.Changes);
        Assert.Equal((null, null), (first.From, first.FromBand));
        Assert.Equal((state.Evaluation.Score, state.Evaluation.Band, Now), (first.To, first.ToBand, first.At));
        Assert.Null(Assert.Single(restored.History.BandChanges!).From);
    }

    [Fact]
    public void Snapshot_BusiestAccount_StaysBoundedByTheModelsCaps()
    {
        var model = ScoringModel.Default;
        var state = new AccountState();
        var end = Now;
        for (var hour = 24 * 60; hour >= 0; hour--)
        {
            var at = end.AddHours(-hour);
            List<HealthEvent> batch = [.. Enumerable.Range(0, 10).Select(_ => Login(at))];
            batch.Add(TicketOpened(at, $"T-{hour}"));
            batch.Add(Nps(at, hour % 11));
            batch.Add(Milestone(at, $"m-{hour}"));
            batch.Add(PaymentFailed(at));
            AccountEngine.Apply(state, batch, model, at.AddMinutes(1));
        }
        var bytes = AccountStateSerializer.Serialize(state).Length;
        TestContext.Current.TestOutputHelper?.WriteLine($"busiest account snapshot: {bytes} bytes");
        Assert.True(state.Dedup.Count <= model.Ingest.DedupMaxIds);
        Assert.True(state.Support.Tickets.Count <= model.Support.MaxTickets);
        Assert.True(state.Outcomes.Milestones!.Count <= model.Outcomes.MaxMilestones);
        Assert.InRange(bytes, 1, 256 * 1024);
    }

    [Fact]
    public void Snapshot_IsCompressed_AndAPlainJsonSnapshotStillReads()
    {
        var state = new AccountState();
        AccountEngine.Apply(state, [.. HealthyMonth(Now)], ScoringModel.Default, Now);
        var snapshot = AccountStateSerializer.Serialize(state);
        Assert.Equal(0xB1, snapshot[0]);

        // What a node before compression wrote: the JSON itself.
        var json = new byte[snapshot.Length * 20];
        Assert.True(System.IO.Compression.BrotliDecoder.TryDecompress(snapshot.AsSpan(1), json, out var length));
        Assert.Equal((byte)'{', json[0]);
        TestContext.Current.TestOutputHelper?.WriteLine($"snapshot: {length} bytes of JSON, {snapshot.Length} compressed");
        Assert.True(snapshot.Length < length * 0.6, $"{snapshot.Length} compressed vs {length}"); // at least 40 % smaller

        var fromCompressed = AccountStateSerializer.Deserialize(snapshot);
        var fromPlain = AccountStateSerializer.Deserialize(json.AsSpan(0, length));
        Assert.Equal(AccountStateSerializer.Serialize(fromPlain), AccountStateSerializer.Serialize(fromCompressed));
        Assert.Equal(state.EventCount, fromPlain.EventCount);
        Assert.Equal(state.Evaluation.Score, fromPlain.Evaluation.Score);
    }

    [Fact]
    public void Snapshot_CorruptCompressedData_IsRefusedAsACorruptSnapshot()
    {
        var state = new AccountState();
        AccountEngine.Apply(state, [.. HealthyMonth(Now)], ScoringModel.Default, Now);
        var snapshot = AccountStateSerializer.Serialize(state);
        snapshot.AsSpan(8, 64).Fill(0x5A);
        var error = Assert.Throws<System.Text.Json.JsonException>(() => AccountStateSerializer.Deserialize(snapshot));
        Assert.StartsWith("An account snapshot is corrupt", error.Message, StringComparison.Ordinal);
    }
}
