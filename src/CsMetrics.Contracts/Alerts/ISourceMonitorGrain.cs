using Orleans.Concurrency;

namespace CsMetrics.Contracts.Alerts;

/// <summary>
/// Knows when each source (the system named by an event's <c>source</c>) last sent anything. A
/// source with nothing for <c>alerts.goneSilent.sourceQuietHours</c> raises one ops alert
/// (<c>source_silent</c>), and its accounts' silence is not taken for churn. One grain, key 0.
/// </summary>
[Alias("csm.ISourceMonitorGrain")]
public interface ISourceMonitorGrain : IGrainWithIntegerKey
{
    /// <summary>What one node saw since its last report: the latest event time per source.</summary>
    [Alias("ReportAsync")]
    Task ReportAsync(Dictionary<string, DateTimeOffset> lastSeen);

    /// <summary>Checks for sources that went quiet or came back; returns the quiet ones.</summary>
    [Alias("TickAsync")]
    Task<string[]> TickAsync();

    [Alias("QuietSourcesAsync"), ReadOnly, AlwaysInterleave]
    Task<string[]> QuietSourcesAsync();
}

/// <summary>
/// The durable schedule behind "gone silent": when each account would go silent if no human used
/// it until then. Sharded by account (<see cref="SilenceShards"/>); each silo's alert clock sweeps the
/// shards, and a shard re-evaluates accounts that are due, active or not, so silence is noticed
/// also after a restart and for accounts no event has touched since.
/// </summary>
[Alias("csm.ISilenceRegistryGrain")]
public interface ISilenceRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Records (durably, before returning) when <paramref name="account"/> is next due; null removes it.</summary>
    [Alias("SetDueAsync")]
    Task SetDueAsync(string account, DateTimeOffset? due);

    /// <summary>
    /// Records when <paramref name="account"/> is next due (null removes it) in the shard's next
    /// save, and returns without waiting for it: <see cref="FlushAsync"/> called after this returns
    /// covers it.
    /// </summary>
    [Alias("QueueDueAsync")]
    Task QueueDueAsync(string account, DateTimeOffset? due);

    /// <summary>Returns once every change this shard took before the call is saved; fails if that save failed.</summary>
    [Alias("FlushAsync")]
    Task FlushAsync();

    /// <summary>Re-evaluates every account due by now; returns how many.</summary>
    [Alias("SweepAsync")]
    Task<int> SweepAsync();
}

public static class SilenceShards
{
    /// <summary>Shards of the silence registry; 1,000,000 accounts make about 4,000 entries each.</summary>
    public const int Count = 256;

    public static int For(string account) => (int)(StableHash.Of(account) % Count);
}
