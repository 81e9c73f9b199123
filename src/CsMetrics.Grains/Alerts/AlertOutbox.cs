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
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _enqueued;
    private long _delivered;
    private bool _stopped;

    public void Enqueue(AlertNotice notice)
    {
        lock (_gate)
        {
            _enqueued++; // after stop it can never be delivered, and DeliveredAsync says so
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
            if (_stopped)
            {
                // A notice will never arrive: the caller must not record it as delivered (its events replay at the next start).
                return Task.FromException(new InvalidOperationException("the alert outbox has stopped with notices undelivered"));
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
        try
        {
            await RunAsync(inbox, batch, stoppingToken);
        }
        finally
        {
            lock (_gate)
            {
                _stopped = true;
                foreach (var (_, done) in _waiters)
                {
                    done.TrySetException(new InvalidOperationException("the alert outbox has stopped with notices undelivered"));
                }
                _waiters.Clear();
            }
            _drained.TrySetResult();
        }
    }

    /// <summary>
    /// Stopping drains what is queued first (the silo stops after this service, so the inbox is
    /// still there), for at most the host's shutdown time.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        await Task.WhenAny(_drained.Task, Task.Delay(Timeout.Infinite, cancellationToken));
        await base.StopAsync(cancellationToken);
    }

    private async Task RunAsync(IAlertInboxGrain inbox, List<AlertNotice> batch, CancellationToken stoppingToken)
    {
        // Ends when the queue is completed (at stop) and empty; not on the stopping token, so the rest is delivered.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
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
