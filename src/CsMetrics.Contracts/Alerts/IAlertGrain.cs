using Orleans.Concurrency;

namespace CsMetrics.Contracts.Alerts;

/// <summary>
/// One shard of the alert store, keyed by shard number (see <see cref="AlertShards"/>): keeps
/// the recent alerts of the accounts that hash to it, so no single grain is hot.
/// </summary>
[Alias("csm.IAlertGrain")]
public interface IAlertGrain : IGrainWithIntegerKey
{
    /// <summary>Stores a new alert and returns it with its id and sequence number.</summary>
    [Alias("RaiseAsync")]
    Task<Alert> RaiseAsync(AlertDraft draft);

    /// <summary>The newest alerts of this shard, newest first.</summary>
    [Alias("RecentAsync"), ReadOnly]
    Task<Alert[]> RecentAsync(int limit);
}

/// <summary>An alert before the shard has given it an id.</summary>
[GenerateSerializer, Immutable, Alias("csm.AlertDraft")]
public sealed record AlertDraft(
    [property: Id(0)] string Account,
    [property: Id(1)] string Type,
    [property: Id(2)] string Severity,
    [property: Id(3)] DateTimeOffset At,
    [property: Id(4)] double? ScoreBefore,
    [property: Id(5)] double? ScoreAfter,
    [property: Id(6)] string? BandBefore,
    [property: Id(7)] string BandAfter,
    [property: Id(8)] string Cause,
    [property: Id(9)] Dictionary<string, double> Drivers);

/// <summary>A threshold-crossing alert.</summary>
[GenerateSerializer, Immutable, Alias("csm.Alert")]
public sealed record Alert(
    [property: Id(0)] string Id,
    [property: Id(1)] long Sequence,
    [property: Id(2)] string Account,
    [property: Id(3)] string Type,
    [property: Id(4)] string Severity,
    [property: Id(5)] DateTimeOffset At,
    [property: Id(6)] double? ScoreBefore,
    [property: Id(7)] double? ScoreAfter,
    [property: Id(8)] string? BandBefore,
    [property: Id(9)] string BandAfter,
    [property: Id(10)] string Cause,
    [property: Id(11)] Dictionary<string, double> Drivers,
    [property: Id(12)] string State);

/// <summary>Alert types and severities (PRODUCT.md, "Alerts").</summary>
public static class AlertTypes
{
    public const string EnteredRed = "entered_red";
    public const string EnteredYellow = "entered_yellow";
    public const string Recovered = "recovered";

    public const string Critical = "critical";
    public const string Warning = "warning";
    public const string Informational = "informational";
}

/// <summary>Which alert shard an account belongs to: a stable hash, the same in every process.</summary>
public static class AlertShards
{
    /// <summary>Number of alert shards. Changing it moves accounts between shards: treat it as fixed.</summary>
    public const int Count = 16;

    public static int For(string account)
    {
        // FNV-1a over UTF-16 code units: string.GetHashCode differs per process.
        var hash = 2166136261u;
        foreach (var c in account)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return (int)(hash % Count);
    }

    // Built once per grain factory: GetGrain<T>(key) resolves the interface type by reflection on every call.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IGrainFactory, IAlertGrain[]> References = new();

    /// <summary>The alert shard grain of an account.</summary>
    public static IAlertGrain GrainFor(IGrainFactory factory, string account) => Grain(factory, For(account));

    /// <summary>Alert shard <paramref name="shard"/> (0 to <see cref="Count"/> - 1).</summary>
    public static IAlertGrain Grain(IGrainFactory factory, int shard) =>
        References.GetValue(factory, static f => [.. Enumerable.Range(0, Count).Select(i => f.GetGrain<IAlertGrain>(i))])[shard];
}
