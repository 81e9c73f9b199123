using CsMetrics.Scoring.Events;
using static CsMetrics.Testing.Events;

namespace CsMetrics.Scoring.Tests.Events;

/// <summary>The event log stores events in this form: what goes in must come out unchanged.</summary>
public class HealthEventCodecTests
{
    [Fact]
    public void EncodeDecode_RoundTripsEveryField()
    {
        List<HealthEvent> events =
        [
            .. HealthyMonth(Now),
            .. ChurningAccount(Now),
            Make(EventTypes.AccountUpdated, Now, new() { ["name"] = "Ünïcode & Co 🚀", ["seats"] = "12", ["renewalDate"] = "2027-01-01T00:00:00.0000000+00:00" }, user: null),
            Login(Now.AddTicks(1234567), id: new string('x', 128), actor: Actor.Bot),
            Login(Now) with { Source = "web-backend" },
        ];
        var decoded = HealthEventCodec.Decode(HealthEventCodec.Encode(events));
        Assert.Equal(events.Count, decoded.Count);
        for (var i = 0; i < events.Count; i++)
        {
            var (a, b) = (events[i], decoded[i]);
            Assert.Equal((a.Id, a.Account, a.Type, a.Family, a.Timestamp, a.User, a.Actor, a.Source), (b.Id, b.Account, b.Type, b.Family, b.Timestamp, b.User, b.Actor, b.Source));
            Assert.Equal(a.Properties.OrderBy(p => p.Key), b.Properties.OrderBy(p => p.Key));
        }
    }

    [Fact]
    public void Encode_IsCompactComparedWithTheJsonItCameFrom()
    {
        var events = HealthyMonth(Now);
        var bytes = HealthEventCodec.EncodePlain(events).Length;
        Assert.InRange(bytes / (double)events.Count, 20, 90);
    }

    /// <summary>A batch as a product backend sends it: 500 events over 500 accounts, mixed types, random ids.</summary>
    private static List<HealthEvent> ProductBatch()
    {
        var random = new Random(7);
        string Id() => $"{random.NextInt64():x16}{random.NextInt64():x16}"; // random like a producer's UUIDs, but the same every run
        string[] features = ["reports", "dashboards", "alerts", "integrations", "exports"];
        return [.. Enumerable.Range(0, 500).Select(i =>
        {
            var at = Now.AddSeconds(-random.Next(86_400));
            var e = (i % 3) switch
            {
                0 => Login(at, id: Id()),
                1 => Feature(at, features[random.Next(features.Length)]) with { Id = Id() },
                _ => Workflow(at) with { Id = Id() },
            };
            return e with { Account = $"acct-{random.Next(100_000):D6}", User = $"user-{random.Next(40)}" };
        })];
    }

    [Fact]
    public void Encode_ABatchPastTheThreshold_IsCompressed_AtLeastHalved_AndRoundTrips()
    {
        var events = ProductBatch();
        var plain = HealthEventCodec.EncodePlain(events);
        var stored = HealthEventCodec.Encode(events);
        Assert.Equal(CompressedFrame.Marker, stored[0]);
        TestContext.Current.TestOutputHelper?.WriteLine($"500 events: {plain.Length} bytes plain, {stored.Length} compressed");
        Assert.True(stored.Length * 2 < plain.Length, $"{stored.Length} bytes compressed from {plain.Length}");
        var decoded = HealthEventCodec.Decode(stored);
        Assert.Equal(events.Select(e => (e.Id, e.Account, e.Type, e.Timestamp, e.User)), decoded.Select(e => (e.Id, e.Account, e.Type, e.Timestamp, e.User)));
        Assert.Equal(events.Select(e => e.Properties.Count), decoded.Select(e => e.Properties.Count));
    }

    [Fact]
    public void Encode_OneAfterAnother_EachRoundTrips_AfterAnOutsizedBatchToo()
    {
        // The encoder reuses its buffer between calls: nothing of one batch may show in the next.
        var big = Enumerable.Range(0, 12_000).Select(i => Login(Now.AddSeconds(-i), id: $"big-{i}-{new string('x', 80)}")).ToList();
        List<HealthEvent>[] batches = [ProductBatch(), [Login(Now, id: "one")], big, ProductBatch()[..3], [Login(Now, id: "last")]];
        foreach (var batch in batches)
        {
            var decoded = HealthEventCodec.Decode(HealthEventCodec.Encode(batch));
            Assert.Equal(batch.Select(e => (e.Id, e.Account, e.Timestamp)), decoded.Select(e => (e.Id, e.Account, e.Timestamp)));
        }
    }

    [Fact]
    public void Decode_PlainEntries_WrittenBeforeCompression_StillRead_AndSmallOnesStayPlain()
    {
        var events = ProductBatch();
        Assert.Equal(events.Count, HealthEventCodec.Decode(HealthEventCodec.EncodePlain(events)).Count);
        var small = HealthEventCodec.Encode([Login(Now)]);
        Assert.NotEqual(CompressedFrame.Marker, small[0]);
    }

    [Fact]
    public void Decode_ACorruptCompressedEntry_IsRefused()
    {
        var stored = HealthEventCodec.Encode(ProductBatch());
        stored.AsSpan(10, 200).Fill(0x5A);
        Assert.Throws<InvalidDataException>(() => HealthEventCodec.Decode(stored));
    }

    [Theory]
    [InlineData(0.25)]
    [InlineData(0.5)]
    [InlineData(0.99)]
    public void Decode_ATruncatedEntry_IsRefusedAsInvalidData(double kept)
    {
        var plain = HealthEventCodec.EncodePlain(ProductBatch());
        Assert.Throws<InvalidDataException>(() => HealthEventCodec.Decode(plain.AsSpan(0, (int)(plain.Length * kept))));
    }

    [Fact]
    public void Decode_Version1_WrittenBeforeSourcesExisted_StillReads()
    {
        // version 1, one event: "e1", "acme", "login", family 0, actor 0, ticks, user "u", no properties
        var ticks = BitConverter.GetBytes(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero).UtcTicks);
        byte[] bytes = [1, 1, 3, (byte)'e', (byte)'1', 5, (byte)'a', (byte)'c', (byte)'m', (byte)'e', 6, (byte)'l', (byte)'o', (byte)'g', (byte)'i', (byte)'n',
            0, 0, .. ticks, 2, (byte)'u', 0];
        var e = Assert.Single(HealthEventCodec.Decode(bytes));
        Assert.Equal(("e1", "acme", "login", "u", (string?)null, HealthEvent.DefaultSource), (e.Id, e.Account, e.Type, e.User, e.Source, e.SourceName));
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), e.Timestamp);
    }

    [Fact]
    public void Decode_UnknownVersion_IsRefused()
    {
        var bytes = HealthEventCodec.Encode([Login(Now)]);
        bytes[0] = 99;
        Assert.Throws<InvalidDataException>(() => HealthEventCodec.Decode(bytes));
    }
}
