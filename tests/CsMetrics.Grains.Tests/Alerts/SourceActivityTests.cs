using CsMetrics.Grains.Alerts;

namespace CsMetrics.Grains.Tests.Alerts;

public class SourceActivityTests
{
    private static readonly DateTimeOffset At = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Drain_GivesTheLatestTimePerSource_ThenStartsOver()
    {
        var activity = new SourceActivity();
        activity.Saw("billing", At);
        activity.Saw("billing", At.AddMinutes(-5)); // an older event does not move it back
        activity.Saw("product", At.AddMinutes(-1));
        activity.Saw("product", At.AddMinutes(2));

        var seen = activity.Drain();
        Assert.Equal(At, seen["billing"]);
        Assert.Equal(At.AddMinutes(2), seen["product"]);
        Assert.Equal(2, seen.Count);
        Assert.Empty(activity.Drain());
    }

    [Fact]
    public async Task Saw_FromManyThreads_KeepsTheLatest()
    {
        var activity = new SourceActivity();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                activity.Saw("product", At.AddTicks(t * 10_000 + i));
            }
        }, TestContext.Current.CancellationToken)));
        Assert.Equal(At.AddTicks(7 * 10_000 + 9_999), activity.Drain()["product"]);
    }
}
