using System.Text;
using System.Text.Json.Nodes;
using CsMetrics.Scoring.Model;

namespace CsMetrics.Testing;

public static class Models
{
    /// <summary>The shipped model with a long grace window, so tests can apply months of history at one instant.</summary>
    public static readonly ScoringModel Replay = With(m => m["ingest"]!["graceHours"] = 24 * 365);

    /// <summary>Writes a model to a temporary file, for hosts configured with <c>CsMetrics:Model:Path</c>.</summary>
    public static string WriteTemp(ScoringModel model)
    {
        var path = Path.Combine(Path.GetTempPath(), $"csmetrics-model-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, model.ToJson());
        return path;
    }

    public static ScoringModel With(Action<JsonNode> change)
    {
        var node = JsonNode.Parse(ScoringModel.Default.ToJson())!;
        change(node);
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(node.ToJsonString()));
        return ScoringModel.Parse(stream, "test model");
    }
}
