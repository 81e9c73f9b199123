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
        var bytes = HealthEventCodec.Encode(events).Length;
        Assert.InRange(bytes / (double)events.Count, 20, 90);
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
