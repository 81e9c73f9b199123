using System.Text;
using System.Text.Json.Nodes;
using CsMetrics.Scoring.Model;

namespace CsMetrics.Scoring.Tests;

internal static class Models
{
    /// <summary>The shipped model with a long grace window, so tests can apply months of history at one instant.</summary>
    public static readonly ScoringModel Replay = With(m => m["ingest"]!["graceHours"] = 24 * 365);

    public static ScoringModel With(Action<JsonNode> change)
    {
        var node = JsonNode.Parse(ScoringModel.Default.ToJson())!;
        change(node);
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(node.ToJsonString()));
        return ScoringModel.Parse(stream, "test model");
    }
}
