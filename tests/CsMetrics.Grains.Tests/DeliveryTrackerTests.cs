namespace CsMetrics.Grains.Tests;

/// <summary>
/// An account waits only for its own notices before it checkpoints: a ticket is through once the
/// items up to it are, whatever was given after it.
/// </summary>
public class DeliveryTrackerTests
{
    [Fact]
    public async Task ATicket_IsThroughOnceItsItemsAre_NotEverythingGivenSince()
    {
        var tracker = new DeliveryTracker("test outbox");
        var queue = new List<int>();
        var first = tracker.Give(queue, q => q.Add(1));
        var second = tracker.Give(queue, q => q.Add(2));
        Assert.Equal((1, 2), (first, second));
        Assert.True(tracker.WaitAsync(0).IsCompletedSuccessfully); // an account that never gave anything

        var waitFirst = tracker.WaitAsync(first);
        var waitSecond = tracker.WaitAsync(second);
        tracker.Give(queue, q => q.Add(3)); // someone else's, given later
        tracker.Delivered(1);
        await waitFirst.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.False(waitSecond.IsCompleted);

        tracker.Delivered(1);
        await waitSecond.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.True(tracker.WaitAsync(second).IsCompletedSuccessfully); // item 3 is still queued: no matter
        Assert.False(tracker.WaitAsync(tracker.Given).IsCompleted);
    }

    [Fact]
    public async Task AfterStop_OnlyUndeliveredTicketsFail()
    {
        var tracker = new DeliveryTracker("test outbox");
        var delivered = tracker.Give(0, _ => { });
        var pending = tracker.Give(0, _ => { });
        tracker.Delivered(1);
        var waiting = tracker.WaitAsync(pending);
        tracker.Stop();
        await Assert.ThrowsAsync<InvalidOperationException>(() => waiting);
        await Assert.ThrowsAsync<InvalidOperationException>(() => tracker.WaitAsync(pending));
        Assert.True(tracker.WaitAsync(delivered).IsCompletedSuccessfully);
    }
}
