using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;

namespace CsMetrics.Scoring.Engine;

/// <summary>Score bands, and the hysteresis that keeps a score hovering at an edge from flapping.</summary>
public static class Bands
{
    /// <summary>The band of a score with no history: green >= model.Green, yellow >= model.Yellow, else red.</summary>
    public static Band Plain(double score, BandModel model) =>
        score >= model.Green ? Band.Green : score >= model.Yellow ? Band.Yellow : Band.Red;

    /// <summary>
    /// The band after a new score, given the current one: the band moves only once the score is
    /// at least <see cref="BandModel.Hysteresis"/> points past the edge it crosses. A score that
    /// hovers at 79.9/80.1 keeps its band; one that falls to 77.9 from green turns yellow.
    /// </summary>
    public static Band Next(Band? current, double score, BandModel model)
    {
        if (current is not { } band)
        {
            return Plain(score, model);
        }
        var up = Plain(score - model.Hysteresis, model);
        if (up > band)
        {
            return up;
        }
        var down = Plain(score + model.Hysteresis, model);
        return down < band ? down : band;
    }

    public static string Name(Band band) => band switch
    {
        Band.Green => "green",
        Band.Yellow => "yellow",
        _ => "red",
    };
}
