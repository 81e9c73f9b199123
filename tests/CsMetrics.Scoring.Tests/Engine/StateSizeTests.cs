using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
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
    public void Snapshot_CompressesItsJson_KeepsTheIdsOutsideIt_AndSchemaTwoSnapshotsStillRead()
    {
        var state = new AccountState();
        var month = HealthyMonth(Now);
        AccountEngine.Apply(state, month, ScoringModel.Default, Now);
        var snapshot = AccountStateSerializer.Serialize(state);

        // 0xB3, the JSON part's length (a varint), the JSON part Brotli-framed, then the ids as they are.
        Assert.Equal(AccountStateSerializer.Marker, snapshot[0]);
        var (length, header) = (0, 1);
        for (var shift = 0; ; shift += 7)
        {
            var b = snapshot[header++];
            length |= (b & 0x7F) << shift;
            if (b < 0x80)
            {
                break;
            }
        }
        var body = snapshot.AsSpan(header, length);
        Assert.Equal(CompressedFrame.Marker, body[0]);
        Assert.Equal(state.Dedup.StoredLength, snapshot.Length - header - length);
        var json = new byte[length * 20];
        Assert.True(System.IO.Compression.BrotliDecoder.TryDecompress(body[1..], json, out var jsonLength));
        Assert.Equal((byte)'{', json[0]);
        TestContext.Current.TestOutputHelper?.WriteLine($"snapshot: {jsonLength} bytes of JSON compressed to {length}, {state.Dedup.Count} ids in {state.Dedup.StoredLength} bytes");
        Assert.True(length < jsonLength * 0.6, $"{length} compressed vs {jsonLength}"); // at least 40 % smaller
        Assert.InRange(state.Dedup.StoredLength, 8 * state.Dedup.Count, 8 * state.Dedup.Count + 4 * state.Dedup.Count + 8);

        // What a node of schema 2 wrote: the JSON alone, plain or compressed, its ids inside it as 24-byte
        // entries (128-bit hash, event time in ticks). It reads as the same state.
        var remembered = month.Where(e => e.Timestamp >= Now.AddHours(-ScoringModel.Default.Ingest.GraceHours)).ToList();
        Assert.Equal(remembered.Count, state.Dedup.Count);
        var legacy = JsonNode.Parse(json.AsSpan(0, jsonLength))!.AsObject();
        Assert.Equal(AccountState.CurrentSchemaVersion, (int)legacy["schemaVersion"]!);
        legacy["schemaVersion"] = 2;
        legacy["dedup"] = new JsonObject { ["entries"] = Convert.ToBase64String(SchemaTwoEntries(remembered)) };
        var plain = Encoding.UTF8.GetBytes(legacy.ToJsonString());
        var fromPlain = AccountStateSerializer.Deserialize(plain);
        var fromCompressed = AccountStateSerializer.Deserialize(CompressedFrame.Pack(plain));

        Assert.Equal(snapshot, AccountStateSerializer.Serialize(fromPlain));
        Assert.Equal(snapshot, AccountStateSerializer.Serialize(fromCompressed));
        Assert.Equal(state.EventCount, fromPlain.EventCount);
        Assert.All(remembered, e => Assert.True(fromPlain.Dedup.Contains(e.Id)));
    }

    [Fact]
    public void Snapshot_CutInsideItsIds_IsRefusedAsACorruptSnapshot_NamingTheIds()
    {
        var state = new AccountState();
        AccountEngine.Apply(state, [.. HealthyMonth(Now)], ScoringModel.Default, Now);
        var snapshot = AccountStateSerializer.Serialize(state);

        var error = Assert.Throws<System.Text.Json.JsonException>(() => AccountStateSerializer.Deserialize(snapshot.AsSpan(0, snapshot.Length - 3)));

        Assert.StartsWith("An account snapshot is corrupt: dedup:", error.Message, StringComparison.Ordinal);
    }

    private static byte[] SchemaTwoEntries(IEnumerable<HealthEvent> events)
    {
        var entries = new List<byte>();
        foreach (var e in events)
        {
            var hash = XxHash128.HashToUInt128(MemoryMarshal.AsBytes(e.Id.AsSpan()));
            var entry = new byte[24];
            BinaryPrimitives.WriteUInt64LittleEndian(entry, (ulong)hash);
            BinaryPrimitives.WriteUInt64LittleEndian(entry.AsSpan(8), (ulong)(hash >> 64));
            BinaryPrimitives.WriteInt64LittleEndian(entry.AsSpan(16), e.Timestamp.UtcTicks);
            entries.AddRange(entry);
        }
        return [.. entries];
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
