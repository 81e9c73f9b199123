using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;

namespace CsMetrics.Scoring.Engine;

/// <summary>One sub-metric of a component: its raw value, its 0..100 score and its weight inside the component.</summary>
public readonly record struct MetricScore(string Name, double? Value, double? Score, double Weight, string Detail)
{
    public bool NoData => Score is null;
}

/// <summary>One component of the health score.</summary>
/// <param name="Weight">The configured weight (e.g. 35 for usage).</param>
/// <param name="Share">This component's share of the total after no-data components are left out (0..1).</param>
public readonly record struct ComponentScore(Component Component, double? Score, double Weight, double Share, IReadOnlyList<MetricScore> Metrics)
{
    public bool NoData => Score is null;

    /// <summary>Points this component adds to the total score.</summary>
    public double Contribution => Score is { } s ? s * Share : 0;

    public string Name => Components.Name(Component);
}

/// <summary>Component names as they appear in the API and in stored contributions.</summary>
public static class Components
{
    private static readonly string[] Names = [.. Enum.GetValues<Component>().Select(c => c.ToString().ToLowerInvariant())];

    public static string Name(Component component) => Names[(int)component];
}

/// <summary>The score of an account at one instant, with everything needed to explain it.</summary>
/// <param name="Score">0..100, one decimal; null when no component has data yet.</param>
public sealed record ScoreCard(double? Score, Band? PlainBand, IReadOnlyList<ComponentScore> Components, DateTimeOffset At)
{
    public ComponentScore this[Component component] => Components[(int)component];
}
