using CsMetrics.Contracts.Alerts;

namespace CsMetrics.Grains.Accounts;

/// <summary>What an account grain persists: the scoring state as a snapshot, and its open alerts.</summary>
[GenerateSerializer, Alias("csm.AccountGrainState")]
public sealed class AccountGrainState
{
    /// <summary><see cref="Scoring.State.AccountStateSerializer"/> bytes.</summary>
    [Id(0)] public byte[] Snapshot { get; set; } = [];

    /// <summary>At most one open alert per type.</summary>
    [Id(1)] public List<Alert> OpenAlerts { get; set; } = [];
}
