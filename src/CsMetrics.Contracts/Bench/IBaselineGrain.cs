using CsMetrics.Contracts.Accounts;

namespace CsMetrics.Contracts.Bench;

/// <summary>
/// The benchmark's yardstick: one grain per account that takes the same batches an account grain
/// takes and only counts them (no de-duplication, no scoring, no storage). What Orleans and the
/// HTTP path cost on their own, measured beside CsMetrics in the same run.
/// </summary>
[Alias("csm.IBaselineGrain")]
public interface IBaselineGrain : IGrainWithStringKey
{
    /// <summary>Counts the batch and returns the running count of events this grain has been given.</summary>
    [Alias("CountAsync")]
    Task<int> CountAsync(EventBatch batch);
}
