using System.Collections.Concurrent;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// What this node's ingest saw of each source since the last report: the latest event time per
/// source name. The alert clock hands it to the source monitor; ingest pays one dictionary write
/// per source per request.
/// </summary>
public sealed class SourceActivity
{
    private ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);

    public void Saw(string source, DateTimeOffset at) =>
        _seen.AddOrUpdate(source, static (_, at) => at, static (_, current, at) => at > current ? at : current, at);

    /// <summary>Takes what was seen since the last call.</summary>
    public Dictionary<string, DateTimeOffset> Drain()
    {
        var taken = Interlocked.Exchange(ref _seen, new ConcurrentDictionary<string, DateTimeOffset>(StringComparer.Ordinal));
        return new Dictionary<string, DateTimeOffset>(taken, StringComparer.Ordinal);
    }
}

/// <summary>This node's copy of which sources are quiet, refreshed by the alert clock.</summary>
public sealed class QuietSources
{
    private volatile HashSet<string> _quiet = new(StringComparer.Ordinal);

    public bool Contains(string source) => _quiet.Contains(source);

    public void Set(IEnumerable<string> sources) => _quiet = new HashSet<string>(sources, StringComparer.Ordinal);
}
