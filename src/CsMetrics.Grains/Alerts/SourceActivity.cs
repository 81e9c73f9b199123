using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// What this node's ingest saw of each source since the last report: the latest event time per
/// source name. The alert clock hands it to the source monitor; ingest pays one dictionary read
/// and one atomic maximum per source per request (no allocation once a source is known: a
/// dictionary of <see cref="DateTimeOffset"/> values allocated a node on every update).
/// </summary>
public sealed class SourceActivity
{
    private ConcurrentDictionary<string, StrongBox<long>> _seen = new(StringComparer.Ordinal);

    public void Saw(string source, DateTimeOffset at)
    {
        var ticks = at.UtcTicks;
        var latest = _seen.GetOrAdd(source, static (_, ticks) => new StrongBox<long>(ticks), ticks);
        var current = Volatile.Read(ref latest.Value);
        while (ticks > current)
        {
            var found = Interlocked.CompareExchange(ref latest.Value, ticks, current);
            if (found == current)
            {
                return;
            }
            current = found;
        }
    }

    /// <summary>Takes what was seen since the last call.</summary>
    public Dictionary<string, DateTimeOffset> Drain()
    {
        var taken = Interlocked.Exchange(ref _seen, new ConcurrentDictionary<string, StrongBox<long>>(StringComparer.Ordinal));
        // A Saw racing with the exchange may write to the taken dictionary after this read; the
        // next request from that source records it again, as it did before.
        return taken.ToDictionary(p => p.Key, p => new DateTimeOffset(Volatile.Read(ref p.Value.Value), TimeSpan.Zero), StringComparer.Ordinal);
    }
}

/// <summary>This node's copy of which sources are quiet, refreshed by the alert clock.</summary>
public sealed class QuietSources
{
    private volatile HashSet<string> _quiet = new(StringComparer.Ordinal);

    public bool Contains(string source) => _quiet.Contains(source);

    public void Set(IEnumerable<string> sources) => _quiet = new HashSet<string>(sources, StringComparer.Ordinal);
}
