using System.Text.Json;
using CsMetrics.Scoring.Catalog;
using CsMetrics.Scoring.Model;

namespace CsMetrics.Scoring.Tests.Catalog;

/// <summary>The registry's rules: new versions may change anything, an existing version only compatibly.</summary>
public class SchemaRegistryTests
{
    private static EventTypeSchema Schema(int version, string properties, string family = "usage") => EventTypeSchema.Parse(
        "{\"type\": \"report_exported\", \"family\": \"" + family + "\", \"version\": " + version + ", \"properties\": {" + properties + "}}");

    private static readonly EventCatalog WithV1 = EventCatalog.Default.With(Schema(1, """
        "format": {"type": "enum", "required": true, "values": ["pdf", "csv"]}, "pages": {"type": "integer", "required": false}
        """), out _);

    [Fact]
    public void ANewType_IsAdded()
    {
        Assert.NotNull(WithV1.Find("report_exported", 1));
        Assert.NotNull(EventCatalog.Default.Find("login")); // the rest is kept
    }

    [Theory]
    [InlineData("""
        "pages": {"type": "integer", "required": false}
        """, "properties.format: removing a required property")]
    [InlineData("""
        "format": {"type": "string", "required": true}, "pages": {"type": "integer", "required": false}
        """, "properties.format: retyping a required property from enum to string")]
    [InlineData("""
        "format": {"type": "enum", "required": true, "values": ["pdf", "csv"]}, "pages": {"type": "integer", "required": true}
        """, "properties.pages: adding a required property")]
    [InlineData("""
        "format": {"type": "enum", "required": true, "values": ["pdf"]}, "pages": {"type": "integer", "required": false}
        """, "properties.format: removing allowed values")]
    [InlineData("""
        "format": {"type": "enum", "required": true, "values": ["pdf", "csv"]}, "pages": {"type": "integer", "required": false, "max": 100}
        """, "properties.pages: narrowing its allowed range or length")]
    [InlineData("""
        "format": {"type": "enum", "required": true, "values": ["pdf", "csv"]}, "pages": {"type": "string", "required": false}
        """, "properties.pages: retyping a property from integer to string")]
    public void ABreakingChangeToAnExistingVersion_IsRefused_NamingTheNextVersion(string properties, string reason)
    {
        var same = WithV1.With(Schema(1, properties), out var error);
        Assert.Same(WithV1, same);
        Assert.Equal($"{reason}: that breaks producers sending version 1; publish it as version 2", error);
        // The same change as a new version is fine, and version 1 stays.
        var next = WithV1.With(Schema(2, properties), out var ok);
        Assert.Null(ok);
        Assert.NotNull(next.Find("report_exported", 1));
        Assert.Equal(2, next.Find("report_exported")!.Version);
    }

    [Fact]
    public void ACompatibleChangeToAnExistingVersion_IsAccepted()
    {
        var changed = WithV1.With(Schema(1, """
            "format": {"type": "enum", "required": true, "values": ["pdf", "csv", "xlsx"]}, "pages": {"type": "integer", "required": false},
            "title": {"type": "string", "required": false}
            """), out var error);
        Assert.Null(error);
        Assert.Equal(3, changed.Find("report_exported", 1)!.Properties.Count);
        var family = WithV1.With(Schema(1, """
            "format": {"type": "enum", "required": true, "values": ["pdf", "csv"]}
            """, family: "outcomes"), out var familyError);
        Assert.StartsWith("family: changing \"usage\" to \"outcomes\"", familyError, StringComparison.Ordinal);
        Assert.Same(WithV1, family);
    }

    [Fact]
    public void AVersionBelowTheLatest_ThatDoesNotExist_IsRefused()
    {
        var v3 = WithV1.With(Schema(3, "\"format\": {\"type\": \"string\", \"required\": true}"), out _);
        v3.With(Schema(2, ""), out var error);
        Assert.Equal("version: type \"report_exported\" is at version 3; change it compatibly as 3, or publish 4, got 2", error);
    }

    [Fact]
    public void AnEventNamingNoVersion_MayFollowAnOlderOne_AnEventNamingOneMustFollowIt()
    {
        var catalog = WithV1.With(Schema(2, """
            "format": {"type": "enum", "required": true, "values": ["pdf", "csv"]}, "destination": {"type": "string", "required": true}
            """), out _);
        var validator = new EventValidator(catalog, ScoringModel.Default);
        bool Valid(string json, out string? error)
        {
            using var doc = JsonDocument.Parse(json);
            return validator.TryValidate(doc.RootElement, new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero), out _, out error);
        }
        const string v1Shape = """{"id":"e1","account":"a","type":"report_exported","timestamp":"2026-11-23T10:00:00Z","properties":{"format":"pdf"}}""";
        Assert.True(Valid(v1Shape, out _));
        Assert.False(Valid(v1Shape.Replace("\"properties\"", "\"version\":2,\"properties\"", StringComparison.Ordinal), out var named));
        Assert.StartsWith("properties.destination: required", named, StringComparison.Ordinal);
        Assert.False(Valid(v1Shape.Replace("pdf", "docx", StringComparison.Ordinal), out var neither));
        Assert.Equal("properties.format: expected one of pdf, csv, got \"docx\"", neither); // the latest version's reason
    }
}
