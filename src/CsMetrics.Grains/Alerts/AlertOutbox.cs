using System.Threading.Channels;
using CsMetrics.Contracts.Alerts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// This silo's queue of alert notices on their way to the inbox. Account grains enqueue and go on
/// (an alert never holds up ingestion); one loop submits whatever is queued as one batch, so while
/// one submission is in flight the next batch gathers (group commit). A failed submission is retried
/// with backoff, in order. An account about to checkpoint first waits for <see cref="DeliveredAsync"/>,
/// so a checkpoint never records an alert decision whose notice a crash could still lose; a crash
/// before the checkpoint replays the events and the state machine decides again.
/// </summary>
public sealed partial class AlertOutbox(IGrainFactory grains, TimeProvider time, ILogger<AlertOutbox> logger) : BackgroundService
{
    private const int MaxBatch = 2000;
    private readonly Channel<AlertNotice> _queue = Channel.CreateUnbounded<AlertNotice>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock _gate = new();
    private readonly List<(long Upto, TaskCompletionSource Done)> _waiters = [];
    private long _enqueued;
    private long _delivered;

    public void Enqueue(AlertNotice notice)
    {
        lock (_gate)
        {
            _enqueued++;
            _queue.Writer.TryWrite(notice);
        }
    }

    /// <summary>Completes once every notice enqueued before this call reached the inbox.</summary>
    public Task DeliveredAsync()
    {
        lock (_gate)
        {
            if (_delivered >= _enqueued)
            {
                return Task.CompletedTask;
            }
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((_enqueued, done));
            return done.Task;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var inbox = grains.GetGrain<IAlertInboxGrain>(0);
        var batch = new List<AlertNotice>(MaxBatch);
        while (await _queue.Reader.WaitToReadAsync(stoppingToken))
        {
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var notice))
            {
                batch.Add(notice);
            }
            var backoff = TimeSpan.FromMilliseconds(100);
            while (true)
            {
                try
                {
                    await inbox.SubmitAsync([.. batch]);
                    break;
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    LogSubmitFailed(logger, batch.Count, backoff, e);
                    await Task.Delay(backoff, time, stoppingToken);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
                }
            }
            lock (_gate)
            {
                _delivered += batch.Count;
                for (var i = _waiters.Count - 1; i >= 0; i--)
                {
                    if (_waiters[i].Upto <= _delivered)
                    {
                        _waiters[i].Done.TrySetResult();
                        _waiters.RemoveAt(i);
                    }
                }
            }
            batch.Clear();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not hand {Count} alert notices to the inbox; retrying in {Backoff}")]
    private static partial void LogSubmitFailed(ILogger logger, int count, TimeSpan backoff, Exception exception);
}
