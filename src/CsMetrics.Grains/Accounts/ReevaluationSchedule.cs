using Microsoft.Extensions.DependencyInjection;
using System.Collections.Concurrent;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Scoring.Model;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace CsMetrics.Grains.Accounts;

/// <summary>
/// Re-scores this silo's active accounts as time passes, so silence lowers a score with no new
/// event. One loop per silo, every <c>evaluation.reevaluateMinutes</c> of the model, instead of a
/// grain timer per account: at 100,000 accounts a timer each cost about 500 bytes per account and
/// 5 % of the node's CPU in timer-queue scans. Accounts register on activation and leave on
/// deactivation; an idle account is still collected as usual, since its idle time is longer than
/// the collection age long before the next round reaches it.
/// </summary>
public sealed partial class ReevaluationSchedule(IGrainFactory grains, ScoringModel model, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time, ILogger<ReevaluationSchedule> logger)
    : BackgroundService
{
    private const int Parallelism = 16;
    private readonly ConcurrentDictionary<string, byte> _active = new(StringComparer.Ordinal);

    public bool Contains(string account) => _active.ContainsKey(account);

    public void Add(string account) => _active.TryAdd(account, 0);

    public void Remove(string account) => _active.TryRemove(account, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(model.Evaluation.ReevaluateMinutes), time);
        AccountGrains? accounts = null;
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            accounts ??= new AccountGrains(grains);
            var failed = 0;
            await Parallel.ForEachAsync(_active.Keys, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = stoppingToken }, async (account, _) =>
            {
                try
                {
                    await accounts.Get(account).ReevaluateAsync();
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    // The next round tries again; the next event re-scores the account anyway.
                    if (Interlocked.Increment(ref failed) == 1)
                    {
                        LogRoundFailed(logger, account, e);
                    }
                }
            });
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not re-score account {Account} as time passed (and maybe others in this round); next round tries again")]
    private static partial void LogRoundFailed(ILogger logger, string account, Exception exception);
}
