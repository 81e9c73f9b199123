namespace CsMetrics.Server.Bench;

/// <summary>The benchmark's measuring endpoints (section <c>CsMetrics:Bench</c>); off unless a benchmark starts the node.</summary>
public sealed class BenchOptions
{
    public const string Section = "CsMetrics:Bench";

    /// <summary>Maps <c>/v1/bench/*</c>: baselines beside the real pipeline, and the node's memory. Never on in production.</summary>
    public bool Enabled { get; set; }
}
