namespace CsMetrics.Grains;

/// <summary>The outboxes' way of handing a batch on: again and again, backing off from 100 ms to 30 s, until it goes through or the silo stops.</summary>
internal static class Retry
{
    public static async Task UntilDoneAsync(Func<Task> send, Action<TimeSpan, Exception> failed, TimeProvider time, CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                await send();
                return;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                failed(backoff, e);
                await Task.Delay(backoff, time, stoppingToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
            }
        }
    }
}
