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
/// whatever the event rate. A round starts when an entry that changes what a user filters or
/// sorts on other than the score arrives (a band, a band move, a profile, an account's first entry),
/// when an account waits for delivery, or once the oldest score-only entry has waited
/// <see cref="PortfolioOptions.ScoreRefreshInterval"/>: a busy account's many small score moves
/// become one entry. A failed call is retried with backoff. An account about to checkpoint
/// first waits for its own last entry (<see cref="DeliveredAsync(long)"/>), so a checkpoint never records a state the index
/// could still lose; a crash before the checkpoint replays the events, which report again.
/// </summary>
public sealed partial class PortfolioOutbox(IGrainFactory grains, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time, IOptions<PortfolioOptions> options, ILogger<PortfolioOutbox> logger) : BackgroundService
{
    private readonly DeliveryTracker _tracker = new("portfolio outbox");
    private readonly Channel<byte> _wake = Channel.CreateBounded<byte>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Dictionary<string, PortfolioEntry> _pending = new(StringComparer.Ordinal);
    // The last round's dictionary, emptied, for the next queue: one round can hold an entry for most
    // of the silo's accounts, and a new dictionary grew to that size again every round (by doubling,
    // on the large-object heap). Only the loop touches it.
    private Dictionary<string, PortfolioEntry>? _spare;
    private long _deliveredUpTo;
    // Under the tracker's lock: whether the queue holds an entry that must go in the next round, and
    // since when the oldest score-only entry waits.
    private bool _due;
    private long? _waitingSince;
    private int _waitStarted; // 1: an entry started the wait since a thread last woke the loop for it

    /// <summary>
    /// Queues an entry (replacing the account's queued one); returns its ticket for <see cref="DeliveredAsync(long)"/>.
    /// <paramref name="scoreOnly"/>: the account's score is all that changed since its last entry, so
    /// the entry may wait up to <see cref="PortfolioOptions.ScoreRefreshInterval"/>.
    /// </summary>
    public long Enqueue(PortfolioEntry entry, bool scoreOnly = false)
    {
        var due = !scoreOnly || options.Value.ScoreRefreshInterval <= options.Value.FlushInterval;
        var ticket = _tracker.Give((this, entry, due, time.GetTimestamp()), static s =>
        {
            var (outbox, entry, due, now) = s;
            outbox._pending[entry.Account] = entry;
            outbox._due |= due;
            if (!due && outbox._waitingSince is null)
            {
                outbox._waitingSince = now;
                outbox._waitStarted = 1;
            }
        });
        // A score-only entry wakes the loop only to start its wait (the loop may be idle with nothing queued).
        if (due || Interlocked.Exchange(ref _waitStarted, 0) == 1)
        {
            _wake.Writer.TryWrite(0);
        }
        return ticket;
    }

    /// <summary>Completes once the entry with this ticket (and all queued before it) is durable in its shard.</summary>
    public Task DeliveredAsync(long ticket)
    {
        var delivered = _tracker.WaitAsync(ticket);
        if (!delivered.IsCompleted)
        {
            Hurry();
        }
        return delivered;
    }

    /// <summary>Completes once every entry queued so far is durable in its shard.</summary>
    public Task DeliveredAsync() => DeliveredAsync(_tracker.Given);

    private void Hurry()
    {
        _tracker.Take(() => _due = true);
        _wake.Writer.TryWrite(0);
    }

    /// <summary>How long until the next round is due: zero now, null when nothing is queued.</summary>
    private TimeSpan? UntilDue() => _tracker.Take(() =>
        _due ? TimeSpan.Zero
        : _waitingSince is { } since ? options.Value.ScoreRefreshInterval - time.GetElapsedTime(since)
        : (TimeSpan?)null).Taken;

    /// <summary>Waits for a wake-up or for <paramref name="timeout"/>; false once the outbox is stopping.</summary>
    private async Task<bool> WaitAsync(TimeSpan? timeout)
    {
        if (timeout is not { } wait)
        {
            return await _wake.Reader.WaitToReadAsync(CancellationToken.None);
        }
        if (wait <= TimeSpan.Zero)
        {
            return !_wake.Reader.Completion.IsCompleted;
        }
        using var cancel = new CancellationTokenSource();
        var woken = _wake.Reader.WaitToReadAsync(CancellationToken.None).AsTask();
        var first = await Task.WhenAny(woken, Task.Delay(wait, time, cancel.Token));
        await cancel.CancelAsync();
        return first != woken || await woken;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await WaitAsync(UntilDue()))
            {
                _wake.Reader.TryRead(out _);
                if (UntilDue() is not { } until || until > TimeSpan.Zero)
                {
                    continue; // woken to start a score-only entry's wait
                }
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
            _pending = _spare ?? new Dictionary<string, PortfolioEntry>(StringComparer.Ordinal);
            _spare = null;
            (_due, _waitingSince) = (false, null);
            return taken;
        });
        if (batch.Count > 0)
        {
            var shards = batch.Values.GroupBy(e => PortfolioShards.For(e.Account));
            await Task.WhenAll(shards.Select(s => SendAsync(s.Key, [.. s], stoppingToken)));
        }
        _tracker.Delivered(upTo - _deliveredUpTo);
        _deliveredUpTo = upTo;
        batch.Clear();
        _spare = batch;
    }

    private Task SendAsync(int shard, PortfolioEntry[] entries, CancellationToken stoppingToken) =>
        Retry.UntilDoneAsync(() => grains.GetGrain<IPortfolioShardGrain>(shard).UpdateAsync(entries),
            (backoff, e) => LogSendFailed(logger, entries.Length, shard, backoff, e), time, stoppingToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not hand {Count} portfolio entries to shard {Shard}; retrying in {Backoff}")]
    private static partial void LogSendFailed(ILogger logger, int count, int shard, TimeSpan backoff, Exception exception);
}
