using Microsoft.Extensions.DependencyInjection;
using System.Threading.Channels;
using CsMetrics.Contracts.Accounts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CsMetrics.Grains.Accounts;

/// <summary>
/// This silo's queue of portfolio entries on their way to the index shards. An account enqueues
/// its entry when its score (to one decimal), band or profile changed, and goes on; entries of the
/// same account replace each other while queued. At most every <see cref="PortfolioOptions.FlushInterval"/> one round
/// sends what is queued, one call per shard, so the index costs a few storage writes a second
/// whatever the event rate. A failed call is retried with backoff. An account about to checkpoint
/// first waits for its own last entry (<see cref="DeliveredAsync(long)"/>), so a checkpoint never records a state the index
/// could still lose; a crash before the checkpoint replays the events, which report again.
/// </summary>
public sealed partial class PortfolioOutbox(IGrainFactory grains, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time, IOptions<PortfolioOptions> options, ILogger<PortfolioOutbox> logger) : BackgroundService
{
    private readonly DeliveryTracker _tracker = new("portfolio outbox");
    private readonly Channel<byte> _wake = Channel.CreateBounded<byte>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dictionary<string, PortfolioEntry> _pending = new(StringComparer.Ordinal);
    private long _deliveredUpTo;

    /// <summary>Queues an entry (replacing the account's queued one); returns its ticket for <see cref="DeliveredAsync(long)"/>.</summary>
    public long Enqueue(PortfolioEntry entry)
    {
        var ticket = _tracker.Give((this, entry), static s => s.Item1._pending[s.entry.Account] = s.entry);
        _wake.Writer.TryWrite(0);
        return ticket;
    }

    /// <summary>Completes once the entry with this ticket (and all queued before it) is durable in its shard.</summary>
    public Task DeliveredAsync(long ticket) => _tracker.WaitAsync(ticket);

    /// <summary>Completes once every entry queued so far is durable in its shard.</summary>
    public Task DeliveredAsync() => _tracker.WaitAsync(_tracker.Given);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _wake.Reader.WaitToReadAsync(CancellationToken.None))
            {
                _wake.Reader.TryRead(out _);
                var started = time.GetTimestamp();
                await RoundAsync(stoppingToken);
                var rest = options.Value.FlushInterval - time.GetElapsedTime(started);
                if (rest > TimeSpan.Zero && !stoppingToken.IsCancellationRequested)
                {
                    await Task.Delay(rest, time, CancellationToken.None);
                }
            }
            await RoundAsync(stoppingToken); // what came after the last wake-up
        }
        finally
        {
            _tracker.Stop();
            _drained.TrySetResult();
        }
    }

    /// <summary>Stopping sends what is queued first (the silo stops after this service), for at most the host's shutdown time.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _wake.Writer.TryComplete();
        await Task.WhenAny(_drained.Task, Task.Delay(Timeout.Infinite, cancellationToken));
        await base.StopAsync(cancellationToken);
    }

    private async Task RoundAsync(CancellationToken stoppingToken)
    {
        var (batch, upTo) = _tracker.Take(() =>
        {
            var taken = _pending;
            _pending = new Dictionary<string, PortfolioEntry>(StringComparer.Ordinal);
            return taken;
        });
        if (batch.Count > 0)
        {
            var shards = batch.Values.GroupBy(e => PortfolioShards.For(e.Account));
            await Task.WhenAll(shards.Select(s => SendAsync(s.Key, [.. s], stoppingToken)));
        }
        _tracker.Delivered(upTo - _deliveredUpTo);
        _deliveredUpTo = upTo;
    }

    private Task SendAsync(int shard, PortfolioEntry[] entries, CancellationToken stoppingToken) =>
        Retry.UntilDoneAsync(() => grains.GetGrain<IPortfolioShardGrain>(shard).UpdateAsync(entries),
            (backoff, e) => LogSendFailed(logger, entries.Length, shard, backoff, e), time, stoppingToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not hand {Count} portfolio entries to shard {Shard}; retrying in {Backoff}")]
    private static partial void LogSendFailed(ILogger logger, int count, int shard, TimeSpan backoff, Exception exception);
}
