namespace CsMetrics.Storage.AzureTable.Log;

/// <summary>One entry of the log: which log, its sequence number, the payload.</summary>
public sealed record LogEntry(string LogId, long Sequence, ReadOnlyMemory<byte> Payload);

/// <summary>
/// A node's write-ahead event log and the logs other nodes left: each node appends to a log of its
/// own (a new one per process start) and any node can read every log of the service, so a log
/// whose node died is replayed by another. Appends are group-committed: whatever waits while one
/// write is in flight goes out as the next single write.
/// </summary>
public interface IEventLog : IAsyncDisposable
{
    /// <summary>This node's log.</summary>
    string LogId { get; }

    /// <summary>What the log is kept in, for messages ("table csmetricslog").</summary>
    string Location { get; }

    Task CreateIfNotExistsAsync(CancellationToken cancellationToken);

    /// <summary>A cheap round trip that proves the log can be reached.</summary>
    Task PingAsync(CancellationToken cancellationToken);

    /// <summary>Appends one payload; completes once it is durable. Returns its sequence number.</summary>
    /// <exception cref="LogUnavailableException">The write failed: the payload must not be acknowledged.</exception>
    Task<long> AppendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);

    /// <summary>Records that this log's node is alive (at <paramref name="now"/> by its own clock).</summary>
    Task HeartbeatAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Every log with a heartbeat, and when its node last gave one.</summary>
    Task<List<(string LogId, DateTimeOffset At)>> OwnersAsync(CancellationToken cancellationToken);

    /// <summary>Forgets a log's heartbeat once its entries have been replayed and deleted.</summary>
    Task RemoveOwnerAsync(string logId, CancellationToken cancellationToken);

    /// <summary>Every entry of one log, in sequence order.</summary>
    IAsyncEnumerable<LogEntry> ReadLogAsync(string logId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every entry of every log of this service, in (log, sequence) order. This node's own log may
    /// be left out: its entries reach the accounts as they are appended.
    /// </summary>
    IAsyncEnumerable<LogEntry> ReadAllAsync(CancellationToken cancellationToken = default);

    /// <summary>Specific entries of one log (missing ones are skipped: already truncated).</summary>
    Task<List<LogEntry>> ReadAsync(string logId, IEnumerable<long> sequences, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes entries whose events every account has checkpointed; missing entries are fine. A log
    /// may keep an entry until the rest stored with it are deleted too: reading it again then only
    /// replays events the accounts already have.
    /// </summary>
    Task DeleteAsync(string logId, IReadOnlyCollection<long> sequences, CancellationToken cancellationToken = default);
}

/// <summary>The durable log cannot be written: the request must not be acknowledged.</summary>
public sealed class LogUnavailableException(string message, Exception inner) : Exception(message, inner);
