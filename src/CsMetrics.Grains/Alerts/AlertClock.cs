using Microsoft.Extensions.DependencyInjection;
using CsMetrics.Contracts.Alerts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// What makes alerts happen with no event arriving, on every silo each <see cref="AlertOptions.ClockInterval"/>:
/// hands the sources this node saw to the source monitor and learns which sources are quiet; lets
/// the inbox escalate and reopen snoozed alerts; sweeps the silence schedule, which re-evaluates
/// accounts due (active or not, also after a restart) so "gone silent" is raised on time. Every
/// step is idempotent, so several silos running it is harmless.
/// </summary>
public sealed partial class AlertClock(
    IGrainFactory grains,
    SourceActivity activity,
    QuietSources quiet,
    [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time,
    IOptions<AlertOptions> options,
    ILogger<AlertClock> logger) : BackgroundService
{
    private const int Parallelism = 16;
    private long _ticks;

    /// <summary>Rounds completed since start.</summary>
    public long Ticks => Interlocked.Read(ref _ticks);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.ClockInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await TickAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>One round of the clock.</summary>
    public async Task TickAsync(CancellationToken cancellationToken = default)
    {
        var monitor = grains.GetGrain<ISourceMonitorGrain>(0);
        await Step("sources", async () =>
        {
            var seen = activity.Drain();
            if (seen.Count > 0)
            {
                await monitor.ReportAsync(seen);
            }
            quiet.Set(await monitor.TickAsync());
        }, cancellationToken);
        await Step("inbox", () => grains.GetGrain<IAlertInboxGrain>(0).TickAsync(), cancellationToken);
        await Step("webhooks", () => grains.GetGrain<IWebhookRegistryGrain>(0).WakeAllAsync(), cancellationToken);
        await Step("silence", () => Parallel.ForEachAsync(Enumerable.Range(0, SilenceShards.Count),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            async (shard, _) => await grains.GetGrain<ISilenceRegistryGrain>(shard).SweepAsync()), cancellationToken);
        Interlocked.Increment(ref _ticks);
    }

    private async Task Step(string name, Func<Task> step, CancellationToken cancellationToken)
    {
        try
        {
            await step();
        }
        catch (Exception e) when (e is not OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            LogStepFailed(logger, name, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Alert clock step {Step} failed; the next tick tries again")]
    private static partial void LogStepFailed(ILogger logger, string step, Exception exception);
}
