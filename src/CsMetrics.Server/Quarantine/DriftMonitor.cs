using Microsoft.Extensions.DependencyInjection;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Grains.Alerts;
using CsMetrics.Scoring.Alerting;
using CsMetrics.Scoring.Model;
using CsMetrics.Server.Ingest;

namespace CsMetrics.Server.Quarantine;

/// <summary>
/// Notices schema drift: per producer, the share of rejected events in windows of
/// <see cref="Window"/>. When it jumps (at least <see cref="MinRejected"/> rejects, at least 20 %
/// of the window, and at least twice the previous window's share plus 10 points), one
/// <c>schema_drift</c> ops alert is raised for the producer (account <c>producer:&lt;name&gt;</c>),
/// naming the most common reason; a later window with under 5 % rejected clears it. Counted per
/// node, in memory: a producer whose traffic is spread over nodes is judged by each node's share.
/// </summary>
public sealed class DriftMonitor(AlertOutbox outbox, ScoringModel model, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time)
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);
    public const int MinRejected = 20;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Producer> _producers = new(StringComparer.Ordinal);

    private sealed class Producer
    {
        public DateTimeOffset Start;
        public long Accepted;
        public long Rejected;
        public double PreviousShare;
        public bool Alerted;
        public bool AlertOpen;
        public Dictionary<string, int> Reasons { get; } = new(StringComparer.Ordinal);
    }

    public static string AccountOf(string producer) => $"producer:{producer}";

    public void Record(string producer, int accepted, IReadOnlyList<RejectedEvent> rejected)
    {
        var now = time.GetUtcNow();
        AlertNotice? notice = null;
        lock (_gate)
        {
            if (!_producers.TryGetValue(producer, out var p))
            {
                _producers[producer] = p = new Producer { Start = now };
            }
            if (now - p.Start >= Window)
            {
                var share = Share(p);
                if (p.AlertOpen && share < 0.05 && p.Accepted + p.Rejected > 0)
                {
                    notice = Notice(producer, AlertNotice.Clear, now, $"producer \"{producer}\" rejects {share:P0} of its events again");
                    p.AlertOpen = false;
                }
                p.PreviousShare = share;
                (p.Start, p.Accepted, p.Rejected, p.Alerted) = (now, 0, 0, false);
                p.Reasons.Clear();
            }
            p.Accepted += accepted;
            p.Rejected += rejected.Count;
            foreach (var r in rejected)
            {
                var key = new Contracts.Quarantine.QuarantinedEvent("", null, "", null, "", r.Reason, now, "").ReasonKey;
                p.Reasons[key] = p.Reasons.GetValueOrDefault(key) + 1;
            }
            var current = Share(p);
            if (!p.Alerted && p.Rejected >= MinRejected && current >= 0.2 && current >= 2 * p.PreviousShare + 0.1)
            {
                p.Alerted = true;
                p.AlertOpen = true;
                var top = p.Reasons.MaxBy(r => r.Value);
                notice = Notice(producer, AlertNotice.Raise, now,
                    $"schema drift: producer \"{producer}\" had {current:P0} of its events rejected in the last {Window.TotalMinutes:0} minutes (before: {p.PreviousShare:P0}); most often \"{top.Key}\" ({top.Value}); see GET /v1/quarantine?producer={producer}");
            }
        }
        if (notice is not null)
        {
            outbox.Enqueue(notice);
        }
    }

    private static double Share(Producer p) => p.Accepted + p.Rejected == 0 ? 0 : (double)p.Rejected / (p.Accepted + p.Rejected);

    private AlertNotice Notice(string producer, string action, DateTimeOffset now, string cause) => new(
        AccountOf(producer), action, AlertKinds.SchemaDrift, AlertKinds.SeverityOf(AlertKinds.SchemaDrift), now,
        null, null, null, null, cause, [], [.. model.Alerts.PlaybookFor(AlertKinds.SchemaDrift)], null);
}
