using CsMetrics.Contracts.Alerts;

namespace CsMetrics.Grains.Alerts;

[GenerateSerializer, Alias("csm.AlertShardState")]
public sealed class AlertShardState
{
    /// <summary>Last sequence number handed out by this shard.</summary>
    [Id(0)] public long Sequence { get; set; }

    /// <summary>The most recent alerts, oldest first, at most <see cref="AlertGrain.MaxRecent"/>.</summary>
    [Id(1)] public List<Alert> Recent { get; set; } = [];
}
