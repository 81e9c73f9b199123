using Microsoft.Extensions.DependencyInjection;
using System.Threading.Channels;
using CsMetrics.Contracts.Alerts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// This silo's queue of alert notices on their way to the inbox. Account grains enqueue and go on
/// (an alert never holds up ingestion); one loop submits whatever is queued as one batch, so while
/// one submission is in flight the next batch gathers (group commit). A failed submission is retried
/// with backoff, in order. An account about to checkpoint first waits for its last notice (<see cref="DeliveredAsync(long)"/>),
/// so a checkpoint never records an alert decision whose notice a crash could still lose; a crash
/// before the checkpoint replays the events and the state machine decides again.
/// </summary>
public sealed partial class AlertOutbox(IGrainFactory grains, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time, ILogger<AlertOutbox> logger) : BackgroundService
{
    private const int MaxBatch = 2000;
    private readonly Channel<AlertNotice> _queue = Channel.CreateUnbounded<AlertNotice>(new UnboundedChannelOptions { SingleReader = true });
    private readonly DeliveryTracker _tracker = new("alert outbox");
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Queues a notice; returns its ticket for <see cref="DeliveredAsync(long)"/>.</summary>
    public long Enqueue(AlertNotice notice) => _tracker.Give((_queue, notice), static s => s._queue.Writer.TryWrite(s.notice));

    /// <summary>Completes once the notice with this ticket (and all before it) reached the inbox.</summary>
    public Task DeliveredAsync(long ticket) => _tracker.WaitAsync(ticket);

    /// <summary>Completes once every notice queued so far reached the inbox.</summary>
    public Task DeliveredAsync() => _tracker.WaitAsync(_tracker.Given);

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
            _tracker.Stop();
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
            await Retry.UntilDoneAsync(() => inbox.SubmitAsync([.. batch]), (backoff, e) => LogSubmitFailed(logger, batch.Count, backoff, e), time, stoppingToken);
            _tracker.Delivered(batch.Count);
            batch.Clear();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not hand {Count} alert notices to the inbox; retrying in {Backoff}")]
    private static partial void LogSubmitFailed(ILogger logger, int count, TimeSpan backoff, Exception exception);
}
