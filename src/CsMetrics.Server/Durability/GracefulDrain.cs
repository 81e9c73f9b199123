using Microsoft.Extensions.Options;

namespace CsMetrics.Server.Durability;

/// <summary>
/// Runs the event log's last truncation when the node stops gracefully: after the HTTP server has
/// stopped taking requests and before the silo stops, while every grain (the silence registry, the
/// portfolio shards) can still be reached. Hosted services stop in the reverse order of their
/// registration, so this one is registered after the silo's.
/// </summary>
internal sealed partial class GracefulDrain(DurableLog log, IOptions<DurabilityOptions> options, ILogger<GracefulDrain> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var timeout = options.Value.DrainTimeout;
        if (timeout <= TimeSpan.Zero)
        {
            return;
        }
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        try
        {
            await log.DrainAsync(bounded.Token);
        }
        catch (OperationCanceledException)
        {
            LogOutOfTime(logger, timeout.TotalSeconds);
        }
        catch (Exception e)
        {
            // Never fail the stop over it: what did not checkpoint is still in the log.
            LogFailed(logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping: the last checkpoints failed; the log keeps what they did not cover and the next start replays it")]
    private static partial void LogFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stopping: the last checkpoints did not finish within {Seconds:F0} s (CsMetrics:Durability:DrainTimeout); the log keeps the rest and the next start replays it")]
    private static partial void LogOutOfTime(ILogger logger, double seconds);
}
