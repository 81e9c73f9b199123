using Microsoft.Extensions.DependencyInjection;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Alerts;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// One shard of the silence schedule (see <see cref="ISilenceRegistryGrain"/>). Reentrant so that
/// an account reporting its due time while this shard sweeps (and calls that account) cannot
/// deadlock; writes are group-committed: every caller returns once a save that includes its change
/// finished, and changes that arrive during a save go out together in the next.
/// </summary>
[Reentrant]
public sealed partial class SilenceRegistryGrain(
    [PersistentState("silence", StorageNames.Default)] IPersistentState<SilenceRegistryState> state,
    [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time,
    ILogger<SilenceRegistryGrain> logger) : Grain, ISilenceRegistryGrain
{
    private const int Parallelism = 8;
    private Task? _saving;
    private TaskCompletionSource? _nextSave;
    private bool _sweeping;

    public Task SetDueAsync(string account, DateTimeOffset? due)
    {
        if (due is { } d)
        {
            if (state.State.Due.TryGetValue(account, out var current) && current == d)
            {
                return Task.CompletedTask;
            }
            state.State.Due[account] = d;
        }
        else if (!state.State.Due.Remove(account))
        {
            return Task.CompletedTask;
        }
        return SaveAsync();
    }

    public async Task<int> SweepAsync()
    {
        if (_sweeping)
        {
            return 0;
        }
        _sweeping = true;
        try
        {
            var now = time.GetUtcNow();
            var due = state.State.Due.Where(p => p.Value <= now).Select(p => p.Key).ToList();
            if (due.Count == 0)
            {
                return 0;
            }
            var accounts = new AccountGrains(GrainFactory);
            var results = new Dictionary<string, DateTimeOffset?>(StringComparer.Ordinal);
            var failed = 0;
            foreach (var chunk in due.Chunk(Parallelism))
            {
                var calls = chunk.Select(async account =>
                {
                    try
                    {
                        results[account] = await accounts.Get(account).CheckSilenceAsync();
                    }
                    catch (Exception e)
                    {
                        // Stays due: the next sweep tries again.
                        if (failed++ == 0)
                        {
                            LogCheckFailed(logger, account, e);
                        }
                    }
                });
                await Task.WhenAll(calls);
            }
            foreach (var (account, next) in results)
            {
                // An account that reported a later time meanwhile keeps it.
                if (state.State.Due.TryGetValue(account, out var current) && current <= now)
                {
                    if (next is { } n)
                    {
                        state.State.Due[account] = n;
                    }
                    else
                    {
                        state.State.Due.Remove(account);
                    }
                }
            }
            await SaveAsync();
            return results.Count;
        }
        finally
        {
            _sweeping = false;
        }
    }

    private Task SaveAsync()
    {
        if (_saving is null || _saving.IsCompleted)
        {
            _saving = RunSavesAsync();
            return _saving;
        }
        _nextSave ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _nextSave.Task;
    }

    private async Task RunSavesAsync()
    {
        try
        {
            await state.WriteStateAsync();
        }
        finally
        {
            var next = _nextSave;
            _nextSave = null;
            _saving = next is null ? null : ChainAsync(next);
        }
    }

    private async Task ChainAsync(TaskCompletionSource waiting)
    {
        try
        {
            await RunSavesAsync();
            waiting.TrySetResult();
        }
        catch (Exception e)
        {
            waiting.TrySetException(e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not check account {Account} for silence (and maybe others in this sweep); the next sweep tries again")]
    private static partial void LogCheckFailed(ILogger logger, string account, Exception exception);
}

[GenerateSerializer, Alias("csm.SilenceRegistryState")]
public sealed class SilenceRegistryState
{
    /// <summary>Account -> when it is next due for a silence check.</summary>
    [Id(0)] public Dictionary<string, DateTimeOffset> Due { get; set; } = new(StringComparer.Ordinal);
}
