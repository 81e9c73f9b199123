using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace CsMetrics.Storage.AzureTable.Log;

/// <summary>
/// The group commit both log stores share: appends queue up, and one writer takes whatever waits
/// when its previous write finishes (up to a count and a size) and writes it as one request; every
/// caller in it is answered when that request is durable, or fails with
/// <see cref="LogUnavailableException"/>. Sequence numbers are never reused, even when a write
/// fails: a timed-out write may still have landed, and a later one must not collide with it.
/// </summary>
public abstract partial class GroupCommitLog : IAsyncDisposable
{
    private readonly Channel<Pending> _pending = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly int _maxPayloadBytes;
    private readonly int _maxEntriesPerWrite;
    private readonly int _maxBytesPerWrite;
    private readonly ILogger _logger;
    private Task? _writer;
    private long _nextSequence;

    protected GroupCommitLog(int maxPayloadBytes, int maxEntriesPerWrite, int maxBytesPerWrite, ILogger logger)
    {
        (_maxPayloadBytes, _maxEntriesPerWrite, _maxBytesPerWrite, _logger) = (maxPayloadBytes, maxEntriesPerWrite, maxBytesPerWrite, logger);
    }

    /// <summary>Starts the writer; called last by a derived constructor.</summary>
    protected void StartWriter() => _writer = Task.Run(WriteLoopAsync);

    /// <summary>Appends one payload; completes once it is durable. Returns its sequence number.</summary>
    public Task<long> AppendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        if (payload.Length > _maxPayloadBytes)
        {
            throw new ArgumentException($"A log entry holds at most {_maxPayloadBytes} bytes, got {payload.Length}", nameof(payload));
        }
        var pending = new Pending(payload, new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously), Between: null);
        ObjectDisposedException.ThrowIf(!_pending.Writer.TryWrite(pending), this);
        return pending.Done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Runs <paramref name="action"/> on the writer between two writes (completes at once once disposed).</summary>
    protected Task BetweenWritesAsync(Action action)
    {
        var pending = new Pending(ReadOnlyMemory<byte>.Empty, new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously), action);
        return _pending.Writer.TryWrite(pending) ? pending.Done.Task : Task.CompletedTask;
    }

    /// <summary>What a payload counts against the size of one write (its bytes, and any framing).</summary>
    protected virtual int WriteCost(ReadOnlyMemory<byte> payload) => payload.Length;

    /// <summary>Writes payloads numbered from <paramref name="firstSequence"/> as one durable request.</summary>
    protected abstract Task WriteAsync(long firstSequence, IReadOnlyList<ReadOnlyMemory<byte>> payloads);

    /// <summary>After a write failed (it may still have landed).</summary>
    protected virtual void OnWriteFailed()
    {
    }

    private async Task WriteLoopAsync()
    {
        var group = new List<Pending>(_maxEntriesPerWrite);
        var payloads = new List<ReadOnlyMemory<byte>>(_maxEntriesPerWrite);
        var reader = _pending.Reader;
        while (await reader.WaitToReadAsync())
        {
            if (reader.TryPeek(out var first) && first.Between is { } action)
            {
                reader.TryRead(out _);
                action();
                first.Done.TrySetResult(0);
                continue;
            }
            group.Clear();
            payloads.Clear();
            var bytes = 0;
            while (group.Count < _maxEntriesPerWrite && reader.TryPeek(out var next) && next.Between is null
                   && (group.Count == 0 || bytes + WriteCost(next.Payload) <= _maxBytesPerWrite))
            {
                reader.TryRead(out next);
                group.Add(next!);
                payloads.Add(next!.Payload);
                bytes += WriteCost(next.Payload);
            }
            var firstSequence = _nextSequence;
            _nextSequence += group.Count;
            try
            {
                await WriteAsync(firstSequence, payloads);
                for (var i = 0; i < group.Count; i++)
                {
                    group[i].Done.TrySetResult(firstSequence + i);
                }
            }
            catch (Exception e)
            {
                OnWriteFailed();
                LogAppendFailed(_logger, group.Count, e.Message);
                foreach (var p in group)
                {
                    p.Done.TrySetException(new LogUnavailableException("The event log could not be written", e));
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer;
        }
        GC.SuppressFinalize(this);
    }

    private sealed record Pending(ReadOnlyMemory<byte> Payload, TaskCompletionSource<long> Done, Action? Between);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not append {Count} batches to the event log: {Reason}; those requests were answered 503")]
    private static partial void LogAppendFailed(ILogger logger, int count, string reason);
}
