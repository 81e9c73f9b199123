namespace CsMetrics.Grains;

/// <summary>
/// Counts what an outbox was given and what it handed on, so a giver can wait until what it gave
/// is through (an account before its checkpoint): each item gets a ticket, its number in the order
/// given, and items are delivered oldest first. Thread-safe.
/// </summary>
public sealed class DeliveryTracker(string what)
{
    private readonly Lock _gate = new();
    private readonly List<(long Upto, TaskCompletionSource Done)> _waiters = [];
    private long _given;
    private long _delivered;
    private bool _stopped;

    /// <summary>
    /// Counts one more item given, and runs <paramref name="give"/> under the same lock (so the
    /// count and the item agree); returns the item's ticket for <see cref="WaitAsync(long)"/>.
    /// </summary>
    public long Give<TState>(TState state, Action<TState> give)
    {
        lock (_gate)
        {
            give(state);
            return ++_given; // after stop it can never be delivered, and WaitAsync says so
        }
    }

    /// <summary>How many items were given so far: what a delivery that takes everything queued now covers.</summary>
    public long Given
    {
        get
        {
            lock (_gate)
            {
                return _given;
            }
        }
    }

    /// <summary>Runs <paramref name="take"/> under the lock <see cref="Give"/> holds, and says how many items were given by then.</summary>
    public (T Taken, long Given) Take<T>(Func<T> take)
    {
        lock (_gate)
        {
            return (take(), _given);
        }
    }

    /// <summary>
    /// Completes once the item with this ticket (and every one before it) was delivered, at once if
    /// it already was; fails if the outbox stopped first. A ticket of 0 (nothing given) is always through.
    /// </summary>
    public Task WaitAsync(long ticket)
    {
        lock (_gate)
        {
            if (_delivered >= ticket)
            {
                return Task.CompletedTask;
            }
            if (_stopped)
            {
                // An item will never arrive: the caller must not record it as delivered (its events replay at the next start).
                return Task.FromException(new InvalidOperationException($"the {what} has stopped with items undelivered"));
            }
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((ticket, done));
            return done.Task;
        }
    }

    /// <summary>Records that <paramref name="count"/> more items, the oldest undelivered ones, are through.</summary>
    public void Delivered(long count)
    {
        lock (_gate)
        {
            _delivered += count;
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Upto <= _delivered)
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>No more deliveries: fails whoever still waits.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            _stopped = true;
            foreach (var (_, done) in _waiters)
            {
                done.TrySetException(new InvalidOperationException($"the {what} has stopped with items undelivered"));
            }
            _waiters.Clear();
        }
    }
}
