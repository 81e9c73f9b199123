using CsMetrics.Scoring.Engine;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;

namespace CsMetrics.Scoring.Tests.Engine;

public class BandsTests
{
    private static readonly BandModel Model = ScoringModel.Default.Bands;

    [Theory]
    [InlineData(100, Band.Green), InlineData(80, Band.Green), InlineData(79.9, Band.Yellow), InlineData(60, Band.Yellow), InlineData(59.9, Band.Red), InlineData(0, Band.Red)]
    public void Plain_UsesTheDocumentedEdges(double score, Band expected) => Assert.Equal(expected, Bands.Plain(score, Model));

    [Fact]
    public void Next_ScoreHoveringAtAnEdge_DoesNotFlap()
    {
        Band? band = null;
        var changes = 0;
        foreach (var score in Enumerable.Range(0, 200).Select(i => i % 2 == 0 ? 80.1 : 79.9))
        {
            var next = Bands.Next(band, score, Model);
            changes += band is not null && next != band ? 1 : 0;
            band = next;
        }
        Assert.Equal(0, changes);
        Assert.Equal(Band.Green, band);
    }

    [Theory]
    [InlineData(Band.Green, 78.1, Band.Green)]
    [InlineData(Band.Green, 77.9, Band.Yellow)]
    [InlineData(Band.Yellow, 81.9, Band.Yellow)]
    [InlineData(Band.Yellow, 82.0, Band.Green)]
    [InlineData(Band.Yellow, 58.1, Band.Yellow)]
    [InlineData(Band.Yellow, 57.9, Band.Red)]
    [InlineData(Band.Red, 61.9, Band.Red)]
    [InlineData(Band.Red, 62.0, Band.Yellow)]
    [InlineData(Band.Red, 95.0, Band.Green)]
    [InlineData(Band.Green, 10.0, Band.Red)]
    public void Next_MovesOnlyPastTheHysteresisMargin(Band current, double score, Band expected) =>
        Assert.Equal(expected, Bands.Next(current, score, Model));

    [Fact]
    public void Next_NoCurrentBand_IsThePlainBand() => Assert.Equal(Band.Yellow, Bands.Next(null, 79.9, Model));
}
