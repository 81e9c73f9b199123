using System.Text;
using System.Text.Json;
using CsMetrics.Scoring.Catalog;
using CsMetrics.Scoring.Events;
using CsMetrics.Scoring.Model;

namespace CsMetrics.Scoring.Tests.Catalog;

public class EventValidatorTests
{
    private static readonly DateTimeOffset Now = CsMetrics.Testing.Events.Now;
    private readonly EventValidator _validator = new(EventCatalog.Default, ScoringModel.Default);

    private (HealthEvent? Event, string? Error) Validate(string json)
    {
        using var doc = JsonDocument.Parse(json);
        _validator.TryValidate(doc.RootElement, Now, out var e, out var error);
        return (e, error);
    }

    [Theory]
    [InlineData("2026-11-23T10:15:00Z")]
    [InlineData("2026-11-23T10:15:00z")]
    [InlineData("2026-11-23T10:15:00.1234567Z")]
    [InlineData("2026-11-23T11:15:00+01:00")]
    [InlineData("2026-11-23T04:45:00-05:30")]
    [InlineData("2026-11-23 10:15:00Z")]
    [InlineData("\\u0032026-11-23T10:15:00Z")]
    public void Timestamp_EveryFormWithAZone_IsTheSameInstant_HoweverItIsRead(string timestamp)
    {
        // Producers' usual forms are read from the JSON's bytes, others through the general parser: both agree.
        var (e, error) = Validate($$"""{"id":"e","account":"a","type":"login","timestamp":"{{timestamp}}"}""");
        Assert.Null(error);
        var expected = DateTimeOffset.Parse(JsonDocument.Parse($"\"{timestamp}\"").RootElement.GetString()!, System.Globalization.CultureInfo.InvariantCulture).ToUniversalTime();
        Assert.Equal(expected, e!.Timestamp);
        Assert.Equal(TimeSpan.Zero, e.Timestamp.Offset);
    }

    [Theory]
    [InlineData("login"), InlineData("feature_used"), InlineData("workflow_completed"), InlineData("integration_setup"), InlineData("session")]
    [InlineData("ticket_opened"), InlineData("ticket_resolved"), InlineData("ticket_escalated")]
    [InlineData("nps_response"), InlineData("csat_response"), InlineData("milestone_achieved"), InlineData("value_realized")]
    [InlineData("subscription_started"), InlineData("subscription_changed"), InlineData("subscription_cancelled")]
    [InlineData("payment_failed"), InlineData("payment_recovered"), InlineData("contract_renewed"), InlineData("account_updated")]
    public void Catalog_HasEveryBuiltInType(string type)
    {
        var schema = EventCatalog.Default.Find(type);
        Assert.NotNull(schema);
        Assert.True(schema.Version >= 1);
    }

    [Fact]
    public void TryValidate_EnvelopeFieldsInAnyOrderOrWithEscapedNames_ReadTheSame()
    {
        var plain = Validate("""{"id":"evt-1","account":"acme","type":"nps_response","timestamp":"2026-11-23T10:15:00Z","user":"u-42","actor":"bot","source":"survey-tool","properties":{"score":9}}""");
        // Reversed, every name escaped in some way, and names the envelope does not know in between.
        var other = Validate("""{"properties":{"score":9},"note":"x","sourc\u0065":"survey-tool","\u0061ctor":"bot","\u0075ser":"u-42","timestamp":"2026-11-23T10:15:00Z","typ\u0065":"nps_response","accounts":"not this","\u0061ccount":"acme","\u0069d":"evt-1"}""");

        Assert.Null(plain.Error);
        Assert.Null(other.Error);
        Assert.Equal(plain.Event, other.Event! with { Properties = plain.Event!.Properties });
        Assert.Equal(plain.Event!.Properties, other.Event!.Properties);
        Assert.Equal((Actor.Bot, "survey-tool", "u-42"), (other.Event.Actor, other.Event.Source, other.Event.User));
    }

    [Fact]
    public void TryValidate_ValidEnvelope_NormalisesIt()
    {
        var (e, error) = Validate("""{"id":"evt-1","account":"acme","type":"nps_response","timestamp":"2026-11-23T11:15:00+01:00","user":"u-42","properties":{"score":9,"extra":"kept out"}}""");
        Assert.Null(error);
        Assert.NotNull(e);
        Assert.Equal(new DateTimeOffset(2026, 11, 23, 10, 15, 0, TimeSpan.Zero), e.Timestamp);
        Assert.Equal(TimeSpan.Zero, e.Timestamp.Offset);
        Assert.Equal(EventFamily.Sentiment, e.Family);
        Assert.Equal(Actor.User, e.Actor);
        Assert.Equal("9", e.Property("score"));
        Assert.Null(e.Property("extra"));
        Assert.Null(e.Source);
        Assert.Equal(HealthEvent.DefaultSource, e.SourceName);
    }

    [Fact]
    public void TryValidate_Source_IsKept()
    {
        var (e, error) = Validate("""{"id":"evt-2","account":"acme","type":"login","timestamp":"2026-11-23T10:00:00Z","source":"web-backend"}""");
        Assert.Null(error);
        Assert.Equal("web-backend", e!.Source);
    }

    [Theory]
    [InlineData("""{"id":"e","account":"a","type":"nps_response","timestamp":"2026-11-23T10:00:00Z","properties":{"score":"ten"}}""", "properties.score: expected integer 0..10, got \"ten\"")]
    [InlineData("""{"id":"e","account":"a","type":"nps_response","timestamp":"2026-11-23T10:00:00Z","properties":{"score":11}}""", "properties.score: expected integer 0..10, got 11")]
    [InlineData("""{"id":"e","account":"a","type":"nps_response","timestamp":"2026-11-23T10:00:00Z","properties":{"score":7.5}}""", "properties.score: expected integer 0..10, got 7.5")]
    [InlineData("""{"id":"e","account":"a","type":"nps_response","timestamp":"2026-11-23T10:00:00Z"}""", "properties.score: required integer 0..10 is missing")]
    [InlineData("""{"id":"e","account":"a","type":"feature_used","timestamp":"2026-11-23T10:00:00Z","properties":[]}""", "properties: expected an object, got []")]
    [InlineData("""{"id":"e","account":"a","type":"subscription_cancelled","timestamp":"2026-11-23T10:00:00Z","properties":{"reason":"angry"}}""", "properties.reason: expected one of voluntary, involuntary, got \"angry\"")]
    [InlineData("""{"id":"e","account":"a","type":"buy_now","timestamp":"2026-11-23T10:00:00Z"}""", "type: unknown event type \"buy_now\" (see GET /v1/catalog)")]
    [InlineData("""{"id":"e","account":"a","timestamp":"2026-11-23T10:00:00Z"}""", "type: expected an event type name (see GET /v1/catalog), got nothing")]
    [InlineData("""{"account":"a","type":"login","timestamp":"2026-11-23T10:00:00Z"}""", "id: expected a non-empty string of at most 128 characters with no control characters or surrounding spaces, got nothing")]
    [InlineData("""{"id":42,"account":"a","type":"login","timestamp":"2026-11-23T10:00:00Z"}""", "id: expected a non-empty string of at most 128 characters with no control characters or surrounding spaces, got 42")]
    [InlineData("""{"id":"e","account":"","type":"login","timestamp":"2026-11-23T10:00:00Z"}""", "account: expected a non-empty string of at most 128 characters with no control characters or surrounding spaces, got \"\"")]
    [InlineData("""{"id":"e","account":"a","type":"login","timestamp":"yesterday"}""", "timestamp: expected an ISO 8601 date-time with a time zone, e.g. 2026-11-23T10:15:00Z, got \"yesterday\"")]
    [InlineData("""{"id":"e","account":"a","type":"login","timestamp":"2026-11-23T10:00:00"}""", "timestamp: expected an ISO 8601 date-time with a time zone, e.g. 2026-11-23T10:15:00Z, got \"2026-11-23T10:00:00\"")]
    [InlineData("""{"id":"e","account":"a","type":"login","timestamp":"2026-11-23T10:00:00Z","actor":"robot"}""", "actor: expected one of user, bot, system, got \"robot\"")]
    [InlineData("""{"id":"e","account":"a","type":"login","timestamp":"2026-11-23T10:00:00Z","version":7}""", "version: type \"login\" has no version 7 (latest is 1)")]
    [InlineData("""{"id":"e","account":"a","type":"login","timestamp":"2026-11-23T10:00:00Z","source":7}""", "source: expected a string of at most 128 characters, got 7")]
    [InlineData("""[1,2]""", "$: expected an event object, got array")]
    public void TryValidate_BadEnvelope_NamesFieldExpectationAndValue(string json, string expected)
    {
        var (e, error) = Validate(json);
        Assert.Null(e);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void TryValidate_FutureBeyondClockSkew_IsRejected()
    {
        var (_, error) = Validate("""{"id":"e","account":"a","type":"login","timestamp":"2026-11-23T12:06:00Z"}""");
        Assert.Equal("timestamp: 2026-11-23T12:06:00Z is more than 5 minutes ahead of the server clock (2026-11-23T12:00:00Z)", error);
        var (ok, _) = Validate("""{"id":"e","account":"a","type":"login","timestamp":"2026-11-23T12:04:00Z"}""");
        Assert.NotNull(ok);
    }

    [Fact]
    public void TryValidate_LongValue_IsCutShortInTheError()
    {
        var big = new string('x', 5000);
        var (_, error) = Validate("""{"id":"e","account":"a","type":"nps_response","timestamp":"2026-11-23T10:00:00Z","properties":{"score":"BIG"}}""".Replace("BIG", big, StringComparison.Ordinal));
        Assert.NotNull(error);
        Assert.True(error.Length < 120, error);
    }

    [Theory]
    [InlineData("""{"id":"e","account":"a","type":"login","timestamp":"2026-11-23T10:00:00Z","actor":"bot"}""")]
    [InlineData("""{"id":"e","account":"a","type":"login","timestamp":"2026-11-23T10:00:00Z","userAgent":"Mozilla/5.0 (compatible; Googlebot/2.1)"}""")]
    [InlineData("""{"id":"e","account":"a","type":"login","timestamp":"2026-11-23T10:00:00Z","userAgent":"HeadlessChrome/120"}""")]
    public void TryValidate_BotActorOrUserAgent_IsMarkedBot(string json)
    {
        Assert.Equal(Actor.Bot, Validate(json).Event!.Actor);
    }

    [Fact]
    public void TryValidate_DateProperty_AcceptsDateOrInstant()
    {
        var (e, error) = Validate("""{"id":"e","account":"a","type":"contract_renewed","timestamp":"2026-11-23T10:00:00Z","properties":{"renewalDate":"2027-11-23"}}""");
        Assert.Null(error);
        Assert.Equal(new DateTimeOffset(2027, 11, 23, 0, 0, 0, TimeSpan.Zero), e!.DateProperty("renewalDate"));
    }

    [Fact]
    public void Extend_CustomType_IsAcceptedAndSameVersionOfABuiltInIsRefused()
    {
        var extension = Parse("""{"version":1,"types":[{"type":"report_exported","family":"usage","version":1,"properties":{"format":{"type":"enum","required":true,"values":["pdf","csv"]}}}]}""");
        var catalog = EventCatalog.Default.Extend(extension, "team.json");
        var validator = new EventValidator(catalog, ScoringModel.Default);
        using var doc = JsonDocument.Parse("""{"id":"e","account":"a","type":"report_exported","timestamp":"2026-11-23T10:00:00Z","properties":{"format":"pdf"}}""");
        Assert.True(validator.TryValidate(doc.RootElement, Now, out var e, out _));
        Assert.Equal(EventFamily.Usage, e!.Family);

        var clash = Parse("""{"version":1,"types":[{"type":"login","family":"usage","version":1}]}""");
        var error = Assert.Throws<CatalogValidationException>(() => EventCatalog.Default.Extend(clash, "team.json"));
        Assert.Contains("types[0].version: type \"login\" already has version 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_BadCatalog_NamesEveryProblem()
    {
        var e = Assert.Throws<CatalogValidationException>(() => Parse(
            """{"version":1,"types":[{"type":"Bad-Name","family":"marketing","version":0,"properties":{"x":{"type":"decimal"}}}]}"""));
        Assert.Contains(e.Errors, x => x.StartsWith("types[0].type:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("types[0].family:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("types[0].version:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("types[0].properties.x.type:", StringComparison.Ordinal));
    }

    private static EventCatalog Parse(string json) => EventCatalog.Parse(new MemoryStream(Encoding.UTF8.GetBytes(json)), "test");
}
