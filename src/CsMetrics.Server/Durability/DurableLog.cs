using Microsoft.Extensions.DependencyInjection;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Scoring.Events;
using CsMetrics.Server.Hosting;
using CsMetrics.Storage.AzureTable.Log;
using Microsoft.Extensions.Options;

namespace CsMetrics.Server.Durability;

/// <summary>
/// The promise of <c>POST /v1/events</c>: a 2xx means the events are in a durable log. This
/// service owns that log for the node: appends (group-committed), the bookkeeping of which
/// accounts were fed which entries, truncation once those accounts have checkpointed, and the
/// replay of every log left in storage when the node starts (its own from before a crash, or
/// one of a node that died). Replay is idempotent: accounts drop event ids they already have.
/// With the Memory provider there is nothing to make durable and the log is off.
/// </summary>
public sealed partial class DurableLog : BackgroundService
{
    private const int MaxEventsPerEntry = 2500;

    private readonly Lazy<IEventLog>? _lazyLog;
    // The grain state, alert and index tables: with the log in blobs, readiness asks the table service too.
    private readonly Lazy<Azure.Data.Tables.TableServiceClient>? _tables;
    private readonly AccountGrains _accounts;
    private readonly IGrainFactory _grains;
    private readonly TimeProvider _time;
    // Read on first use, not here: the node's hosted services are built before start-up validation
    // runs, and a constructor that read an invalid section would hide the other sections' errors.
    private readonly IOptions<DurabilityOptions> _durability;
    private readonly int _partitionBuckets;
    private readonly ILogger<DurableLog> _logger;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _truncating = new(1, 1);
    private LogEpoch _current = new();
    private LogEpoch? _retry;
    private volatile bool _replayed;
    private volatile bool _draining;
    private volatile string? _storageProblem = "not checked yet";

    /// <param name="time">The real clock, never CsMetrics' own (which a demo node runs faster): heartbeats and orphaned logs are judged across nodes.</param>
    public DurableLog(IOptions<StorageOptions> storage, IOptions<NodeOptions> node, IOptions<DurabilityOptions> options, AccountGrains accounts, IGrainFactory grains, TimeProvider time, ILogger<DurableLog> logger)
    {
        _accounts = accounts;
        _grains = grains;
        _time = time;
        _durability = options;
        _logger = logger;
        if (string.Equals(storage.Value.Provider, StorageProviders.AzureTable, StringComparison.OrdinalIgnoreCase))
        {
            var table = storage.Value.AzureTable;
            _partitionBuckets = table.PartitionBuckets;
            // A fresh log per process start: a restarted node replays its old log like any other.
            // Created on first use, after start-up validation has vetted the settings.
            var serviceId = node.Value.ServiceId;
            var logId = Guid.NewGuid().ToString("N");
            _lazyLog = new Lazy<IEventLog>(() => LogStores.IsTable(_options.LogStore)
                ? new AzureTableEventLog(table.ConnectionString!, _options.LogTableName, serviceId, logId, table.RequestTimeout, logger)
                : new AzureBlobEventLog(table.ConnectionString!, _options.LogContainerName, serviceId, logId, table.RequestTimeout, logger));
            _tables = new Lazy<Azure.Data.Tables.TableServiceClient>(() =>
            {
                var clientOptions = new Azure.Data.Tables.TableClientOptions();
                clientOptions.Retry.NetworkTimeout = table.RequestTimeout;
                clientOptions.Retry.MaxRetries = 0;
                return new Azure.Data.Tables.TableServiceClient(table.ConnectionString!, clientOptions);
            });
        }
        else
        {
            _replayed = true;
            _storageProblem = null;
        }
    }

    private DurabilityOptions _options => _durability.Value;

    private IEventLog? EventLog => _lazyLog?.Value;

    public bool IsDurable => _lazyLog is not null;

    /// <summary>Null when storage answered the last check and every log left from before has been replayed.</summary>
    public string? NotReadyReason => _storageProblem ?? (_replayed ? null : "replaying the event log");

    /// <summary>Checks storage for real (a round trip), for readiness.</summary>
    public async Task<string?> CheckAsync(CancellationToken cancellationToken)
    {
        if (EventLog is null)
        {
            return null;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(3));
        var log = PingOrProblemAsync(() => EventLog.PingAsync(timeout.Token), $"the event log ({EventLog.Location})", cancellationToken);
        var tables = PingOrProblemAsync(() => PingTablesAsync(timeout.Token), "the state tables (table service)", cancellationToken);
        var (logProblem, tablesProblem) = (await log, await tables);
        _storageProblem = logProblem ?? tablesProblem;
        return NotReadyReason;
    }

    private static async Task<string?> PingOrProblemAsync(Func<Task> ping, string what, CancellationToken cancellationToken)
    {
        try
        {
            await ping();
            return null;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return $"storage: {what} cannot be reached ({e.GetType().Name})";
        }
    }

    /// <summary>A cheap round trip to the table service: the first page of one table's name.</summary>
    private async Task PingTablesAsync(CancellationToken cancellationToken)
    {
        await foreach (var _ in _tables!.Value.QueryAsync(maxPerPage: 1, cancellationToken: cancellationToken))
        {
            break;
        }
    }

    /// <summary>
    /// Makes a request's accepted events durable and delivers them (one grain call per account) at
    /// the same time: the accounts apply the events while the log commits, so a score moves without
    /// waiting for storage; the answer waits for both. Throws <see cref="LogUnavailableException"/>
    /// when the log cannot be written: nothing is acknowledged, although the accounts may already
    /// show the events; the client's retry then finds their ids and counts each once.
    /// </summary>
    public async Task<AccountIngestResult[]> AppendAndDeliverAsync(Dictionary<string, List<HealthEvent>> byAccount)
    {
        if (EventLog is null)
        {
            return await DeliverAsync(byAccount, epoch: null);
        }
        var epoch = Enter();
        try
        {
            var entries = Encode(byAccount);
            var appending = Task.WhenAll(entries.Select(e => EventLog.AppendAsync(e)));
            var delivering = DeliverAsync(byAccount, epoch);
            long[] sequences;
            try
            {
                sequences = await appending;
            }
            catch
            {
                // The epoch must know every delivery before this request leaves it.
                await delivering.ContinueWith(static _ => { }, TaskScheduler.Default);
                throw;
            }
            epoch.AddSequences(EventLog.LogId, sequences);
            return await delivering;
        }
        finally
        {
            epoch.Leave();
        }
    }

    private LogEpoch Enter()
    {
        while (true)
        {
            var epoch = _current;
            if (epoch.TryEnter())
            {
                return epoch;
            }
            Thread.Yield();
        }
    }

    private async Task<AccountIngestResult[]> DeliverAsync(Dictionary<string, List<HealthEvent>> byAccount, LogEpoch? epoch)
    {
        var accounts = new string[byAccount.Count];
        byAccount.Keys.CopyTo(accounts, 0); // all of them, for Record, even if a call below throws
        var calls = new Task<AccountIngestResult>[accounts.Length];
        try
        {
            var i = 0;
            foreach (var events in byAccount.Values)
            {
                calls[i] = _accounts.Get(accounts[i]).IngestAsync(new EventBatch([.. events]));
                i++;
            }
            return await Task.WhenAll(calls);
        }
        finally
        {
            // Which incarnation got what (or that a delivery failed), for truncation: one lock per request.
            epoch?.Record(accounts, calls);
        }
    }

    private static List<byte[]> Encode(Dictionary<string, List<HealthEvent>> byAccount)
    {
        var count = 0;
        foreach (var events in byAccount.Values)
        {
            count += events.Count;
        }
        var all = new HealthEvent[count];
        var at = 0;
        foreach (var events in byAccount.Values)
        {
            events.CopyTo(all, at);
            at += events.Count;
        }
        var entries = new List<byte[]>(count / MaxEventsPerEntry + 1);
        for (var start = 0; start < count; start += MaxEventsPerEntry)
        {
            entries.Add(HealthEventCodec.Encode(new ArraySegment<HealthEvent>(all, start, Math.Min(MaxEventsPerEntry, count - start))));
        }
        return entries;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (EventLog is null)
        {
            return;
        }
        await WaitForStorageAsync(stoppingToken);
        // Heartbeats run on their own: a long replay or truncation must never make this node look
        // dead to the others, which would then replay its log while it is still appending to it.
        using var stopHeartbeats = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var heartbeats = HeartbeatLoopAsync(stopHeartbeats.Token);
        try
        {
            await ReplayAsync(EventLog!.ReadAllAsync(stoppingToken), "every log", stoppingToken);
            var lastTruncate = _time.GetTimestamp();
            using var timer = new PeriodicTimer(_options.HeartbeatInterval, _time);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await AdoptOrphansAsync(stoppingToken);
                if (_time.GetElapsedTime(lastTruncate) >= _options.TruncateInterval && !_draining)
                {
                    await _truncating.WaitAsync(stoppingToken);
                    try
                    {
                        if (!_draining)
                        {
                            await TruncateAsync(stoppingToken);
                        }
                    }
                    finally
                    {
                        _truncating.Release();
                    }
                    lastTruncate = _time.GetTimestamp();
                }
            }
        }
        finally
        {
            await stopHeartbeats.CancelAsync();
            await heartbeats.ContinueWith(static _ => { }, TaskScheduler.Default);
        }
    }

    private async Task HeartbeatLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.HeartbeatInterval, _time);
        do
        {
            await HeartbeatAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task HeartbeatAsync(CancellationToken stoppingToken)
    {
        try
        {
            await EventLog!.HeartbeatAsync(_time.GetUtcNow(), stoppingToken);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogHeartbeatFailed(_logger, e.Message);
        }
    }

    /// <summary>
    /// A node that died and does not come back leaves its log behind: a running node that sees
    /// its heartbeat go stale replays that log into the accounts (idempotently) and deletes it.
    /// </summary>
    private async Task AdoptOrphansAsync(CancellationToken stoppingToken)
    {
        List<(string LogId, DateTimeOffset At)> owners;
        try
        {
            owners = await EventLog!.OwnersAsync(stoppingToken);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogHeartbeatFailed(_logger, e.Message);
            return;
        }
        var now = _time.GetUtcNow();
        foreach (var (logId, at) in owners)
        {
            if (logId == EventLog!.LogId || now - at < _options.OrphanAfter)
            {
                continue;
            }
            LogAdopting(_logger, logId, (now - at).TotalSeconds);
            if (await ReplayAsync(EventLog.ReadLogAsync(logId, stoppingToken), $"log {logId}", stoppingToken))
            {
                await EventLog.RemoveOwnerAsync(logId, stoppingToken);
            }
        }
    }

    private async Task WaitForStorageAsync(CancellationToken stoppingToken)
    {
        var logged = false;
        while (true)
        {
            try
            {
                await EventLog!.CreateIfNotExistsAsync(stoppingToken);
                _storageProblem = null;
                return;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                _storageProblem = $"storage: the event log ({EventLog!.Location}) cannot be reached ({e.GetType().Name})";
                if (!logged)
                {
                    LogStorageUnreachable(_logger, EventLog.Location, e.Message);
                    logged = true;
                }
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            }
        }
    }

    /// <summary>Feeds log entries back to their accounts, then truncates what they checkpointed. True when all is deleted.</summary>
    private async Task<bool> ReplayAsync(IAsyncEnumerable<LogEntry> entriesToReplay, string what, CancellationToken stoppingToken)
    {
        var started = _time.GetTimestamp();
        var replay = new LogEpoch();
        long entries = 0, events = 0;
        // A window's events are decoded as its entries are read and grouped by account, so each
        // account gets all of its events in the window in one call: the cost of a replay is per
        // call, and a log of many requests over the same accounts replays far faster in wide windows.
        var window = new List<LogEntry>();
        var byAccount = new Dictionary<string, List<HealthEvent>>(StringComparer.Ordinal);
        var decoded = 0;
        void Clear() => (window, byAccount, decoded) = ([], new Dictionary<string, List<HealthEvent>>(StringComparer.Ordinal), 0);
        async Task SendWindowAsync()
        {
            await ReplayWindowAsync(window, byAccount, replay, stoppingToken);
            (entries, events) = (entries + window.Count, events + decoded);
            Clear();
        }
        while (true)
        {
            try
            {
                await foreach (var entry in entriesToReplay)
                {
                    window.Add(entry);
                    decoded += GroupByAccount(entry, byAccount);
                    if (window.Count >= _options.ReplayWindowEntries || decoded >= _options.ReplayWindowEvents)
                    {
                        await SendWindowAsync();
                    }
                }
                await SendWindowAsync();
                break;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Replay again from the start: accounts skip what they already have.
                LogReplayFailed(_logger, e.Message);
                Clear();
                await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken);
            }
        }
        _replayed = true;
        var seconds = _time.GetElapsedTime(started).TotalSeconds;
        LogReplayed(_logger, entries, events, replay.Accounts.Count, what, seconds);
        if (replay.IsEmpty)
        {
            return true;
        }
        await replay.SealAsync();
        if (await TryTruncateAsync(replay, stoppingToken))
        {
            return true;
        }
        lock (_gate)
        {
            _retry = replay;
        }
        return false;
    }

    private async Task ReplayWindowAsync(List<LogEntry> window, Dictionary<string, List<HealthEvent>> byAccount, LogEpoch replay, CancellationToken stoppingToken)
    {
        if (window.Count == 0)
        {
            return;
        }
        await Parallel.ForEachAsync(byAccount, new ParallelOptions { MaxDegreeOfParallelism = _options.Parallelism, CancellationToken = stoppingToken }, async (pair, _) =>
        {
            foreach (var chunk in pair.Value.Chunk(5000))
            {
                var result = await _accounts.Get(pair.Key).IngestAsync(new EventBatch(chunk));
                replay.Delivered(pair.Key, result.Incarnation);
            }
        });
        foreach (var group in window.GroupBy(e => e.LogId))
        {
            replay.AddSequences(group.Key, group.Select(e => e.Sequence));
        }
    }

    /// <summary>
    /// A graceful stop, while the cluster is still up and after the HTTP server has stopped taking
    /// requests: one last truncation, so every account fed since the last one checkpoints and a
    /// restart finds nothing of this node's to replay. If it cannot finish (storage away, or the
    /// host's shutdown time runs out) the entries stay in the log and the next start replays them,
    /// exactly as after a crash.
    /// </summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        if (EventLog is null || !_replayed)
        {
            return;
        }
        LogDraining(_logger);
        _draining = true; // no periodic truncation after this one, while the silo stops
        await _truncating.WaitAsync(cancellationToken);
        try
        {
            await TruncateAsync(cancellationToken);
        }
        finally
        {
            _truncating.Release();
        }
    }

    /// <summary>Seals the current epoch; once its accounts have checkpointed, deletes its entries.</summary>
    internal async Task TruncateAsync(CancellationToken stoppingToken)
    {
        LogEpoch sealedEpoch;
        lock (_gate)
        {
            sealedEpoch = _current;
            _current = new LogEpoch();
        }
        await sealedEpoch.SealAsync().WaitAsync(stoppingToken);
        LogEpoch? retry;
        lock (_gate)
        {
            retry = _retry;
            _retry = null;
        }
        if (retry is not null)
        {
            sealedEpoch.Absorb(retry);
        }
        if (sealedEpoch.IsEmpty)
        {
            return;
        }
        if (!await TryTruncateAsync(sealedEpoch, stoppingToken))
        {
            lock (_gate)
            {
                _retry = sealedEpoch;
            }
        }
    }

    private async Task<bool> TryTruncateAsync(LogEpoch epoch, CancellationToken stoppingToken)
    {
        var started = _time.GetTimestamp();
        try
        {
            Dictionary<string, List<HealthEvent>>? redeliver = null;
            var redeliverGate = new SemaphoreSlim(1, 1);
            await Parallel.ForEachAsync(InCheckpointOrder(epoch.Accounts), new ParallelOptions { MaxDegreeOfParallelism = _options.CheckpointParallelism, CancellationToken = stoppingToken }, async (pair, ct) =>
            {
                var grain = _accounts.Get(pair.Key);
                var incarnation = await grain.FlushAsync();
                if (!pair.Value.Suspect && incarnation == pair.Value.Incarnation)
                {
                    return;
                }
                // This account may have lost events with an incarnation: feed it this epoch's again.
                await redeliverGate.WaitAsync(ct);
                try
                {
                    redeliver ??= await LoadAsync(epoch, ct);
                }
                finally
                {
                    redeliverGate.Release();
                }
                if (redeliver.TryGetValue(pair.Key, out var events))
                {
                    foreach (var chunk in events.Chunk(5000))
                    {
                        await grain.IngestAsync(new EventBatch(chunk));
                    }
                    await grain.FlushAsync();
                }
            });
            // The checkpoints told the silence schedule when their accounts go silent without waiting
            // for its paced saves: those reports must be saved before the log that would make them again goes.
            await Task.WhenAll(Enumerable.Range(0, SilenceShards.Count).Select(shard => _grains.GetGrain<ISilenceRegistryGrain>(shard).FlushAsync()));
            var entries = 0;
            foreach (var (logId, sequences) in epoch.Sequences)
            {
                await EventLog!.DeleteAsync(logId, sequences, stoppingToken);
                entries += sequences.Count;
            }
            var seconds = _time.GetElapsedTime(started).TotalSeconds;
            LogTruncated(_logger, epoch.Accounts.Count, entries, seconds);
            return true;
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            LogTruncateFailed(_logger, epoch.Accounts.Count, e.Message);
            return false;
        }
    }

    /// <summary>
    /// Accounts sorted by the storage partition their checkpoint goes to, so the flushes in flight
    /// together share a partition and go out as entity-group transactions of up to 100 entities
    /// instead of one request each (which saturated Azurite and delayed the log appends behind them).
    /// </summary>
    private IEnumerable<KeyValuePair<string, LogEpoch.Mark>> InCheckpointOrder(Dictionary<string, LogEpoch.Mark> accounts) =>
        _partitionBuckets <= 0
            ? accounts
            : accounts.OrderBy(a => Storage.AzureTable.Storage.TableKeys.Bucket(_accounts.IdOf(a.Key).ToString(), _partitionBuckets));

    private async Task<Dictionary<string, List<HealthEvent>>> LoadAsync(LogEpoch epoch, CancellationToken cancellationToken)
    {
        var byAccount = new Dictionary<string, List<HealthEvent>>(StringComparer.Ordinal);
        foreach (var (logId, sequences) in epoch.Sequences)
        {
            foreach (var entry in await EventLog!.ReadAsync(logId, sequences, cancellationToken))
            {
                GroupByAccount(entry, byAccount);
            }
        }
        return byAccount;
    }

    /// <summary>Decodes a log entry into per-account lists; returns how many events it held.</summary>
    private static int GroupByAccount(LogEntry entry, Dictionary<string, List<HealthEvent>> byAccount)
    {
        var events = HealthEventCodec.Decode(entry.Payload.Span);
        foreach (var e in events)
        {
            if (!byAccount.TryGetValue(e.Account, out var list))
            {
                byAccount[e.Account] = list = [];
            }
            list.Add(e);
        }
        return events.Count;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_lazyLog is { IsValueCreated: true })
        {
            await _lazyLog.Value.DisposeAsync();
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Cannot reach Azure Storage for the event log ({Location}): {Reason}. Not ready; POST /v1/events answers 503 until storage answers")]
    private static partial void LogStorageUnreachable(ILogger logger, string location, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replayed {Entries} log entries ({Events} events, {Accounts} accounts) from {What} in {Seconds:F1} s")]
    private static partial void LogReplayed(ILogger logger, long entries, long events, int accounts, string what, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Adopting event log {LogId}: its node has given no heartbeat for {Seconds:F0} s")]
    private static partial void LogAdopting(ILogger logger, string logId, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record or read node heartbeats: {Reason}")]
    private static partial void LogHeartbeatFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replay of the event log failed, starting over: {Reason}")]
    private static partial void LogReplayFailed(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not truncate the event log ({Accounts} accounts); will try again: {Reason}")]
    private static partial void LogTruncateFailed(ILogger logger, int accounts, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Stopping: checkpointing the accounts fed since the last truncation, so a restart has nothing of this node's to replay")]
    private static partial void LogDraining(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Checkpointed {Accounts} accounts and deleted the {Entries} log entries they cover in {Seconds:F1} s")]
    private static partial void LogTruncated(ILogger logger, int accounts, int entries, double seconds);
}
