namespace CsMetrics.Grains.Accounts;

/// <summary>What an account grain persists: the scoring state as a snapshot (alert memory included).</summary>
[GenerateSerializer, Alias("csm.AccountGrainState")]
public sealed class AccountGrainState
{
    /// <summary><see cref="Scoring.State.AccountStateSerializer"/> bytes.</summary>
    [Id(0)] public byte[] Snapshot { get; set; } = [];
}
