using Microsoft.Extensions.DependencyInjection;
using CsMetrics.Contracts.Alerts;

namespace CsMetrics.Server.Alerts;

/// <summary>
/// Tells this node's open alert streams that the inbox moved on: while at least one stream is
/// open, one loop asks the inbox for its last sequence number every <see cref="PollInterval"/> and
/// wakes every waiting stream when it changes. N dashboards cost one cheap grain call per interval,
/// not N.
/// </summary>
public sealed partial class AlertFeed(IGrainFactory grains, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time, ILogger<AlertFeed> logger) : BackgroundService
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _last = -1;
    private int _subscribers;

    public IDisposable Subscribe()
    {
        Interlocked.Increment(ref _subscribers);
        return new Subscription(this);
    }

    /// <summary>Completes when the inbox has changes after <paramref name="after"/> (at once if it already has).</summary>
    public Task WaitForChangeAsync(long after, CancellationToken cancellationToken)
    {
        // The signal first, then the number: a change between the two reads completes this signal.
        var changed = Volatile.Read(ref _changed);
        return Volatile.Read(ref _last) > after ? Task.CompletedTask : changed.Task.WaitAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(PollInterval, time, stoppingToken);
            if (Volatile.Read(ref _subscribers) == 0)
            {
                continue;
            }
            try
            {
                var last = await grains.GetGrain<IAlertInboxGrain>(0).LastSequenceAsync();
                failures = 0;
                if (last != Volatile.Read(ref _last))
                {
                    Volatile.Write(ref _last, last);
                    Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                if (failures++ == 0)
                {
                    LogPollFailed(logger, e);
                }
            }
        }
    }

    private sealed class Subscription(AlertFeed feed) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                Interlocked.Decrement(ref feed._subscribers);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert streams cannot reach the alert inbox; retrying")]
    private static partial void LogPollFailed(ILogger logger, Exception exception);
}
