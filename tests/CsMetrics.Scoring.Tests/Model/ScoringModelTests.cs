using CsMetrics.Testing;
using System.Text;
using CsMetrics.Scoring.Model;

namespace CsMetrics.Scoring.Tests.Model;

public class ScoringModelTests
{
    [Fact]
    public void Default_IsValidWithTheDocumentedWeightsAndBands()
    {
        var m = ScoringModel.Default;
        Assert.Empty(ScoringModelValidator.Validate(m));
        Assert.Equal([35.0, 15, 20, 20, 10], [m.Weights.Usage, m.Weights.Support, m.Weights.Sentiment, m.Weights.Outcomes, m.Weights.Billing]);
        Assert.Equal(80, m.Bands.Green);
        Assert.Equal(60, m.Bands.Yellow);
    }

    [Fact]
    public void ToJson_RoundTripsToAnEquivalentModel()
    {
        var json = ScoringModel.Default.ToJson();
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
        Assert.Equal(json, ScoringModel.Parse(stream, "round trip").ToJson());
    }

    [Fact]
    public void Parse_BadSettings_NamesEveryOne()
    {
        var e = Assert.Throws<ModelValidationException>(() => Models.With(m =>
        {
            m["weights"]!["usage"] = -5;
            m["bands"]!["yellow"] = 85;
            m["usage"]!["subWeights"]!["breadthh"] = 10;
            m["sentiment"]!["npsPoints"]![3] = 1;
        }));
        Assert.Contains(e.Errors, x => x.StartsWith("weights.usage: expected a number from 0 to 1000, got -5", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("bands.yellow: expected less than bands.green", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("usage.subWeights.breadthh: unknown sub-metric", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("sentiment.npsPoints[3]: points must not decrease", StringComparison.Ordinal));
        Assert.Contains("test model", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnknownProperty_IsRejectedWithItsPath()
    {
        var e = Assert.Throws<ModelValidationException>(() => Models.With(m => m["weights"]!["usge"] = 30));
        Assert.Contains(e.Errors, x => x.Contains("usge", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_MissingSection_IsRejected()
    {
        var e = Assert.Throws<ModelValidationException>(() => Models.With(m => m.AsObject().Remove("billing")));
        Assert.Contains(e.Errors, x => x.Contains("billing", StringComparison.Ordinal));
    }

    [Fact]
    public void CadenceFor_UnknownSegment_UsesDefault()
    {
        var usage = ScoringModel.Default.Usage;
        Assert.Equal(usage.Cadence["default"], usage.CadenceFor("startup"));
        Assert.Equal(usage.Cadence["enterprise"], usage.CadenceFor("Enterprise"));
    }
}

public class ScoringModelNullTests
{
    [Fact]
    public void Parse_NullList_IsAClearErrorNotACrash()
    {
        var e = Assert.Throws<ModelValidationException>(() => CsMetrics.Testing.Models.With(m => m["usage"]!["keyFeatures"] = null));
        Assert.NotEmpty(e.Errors);
    }
}
