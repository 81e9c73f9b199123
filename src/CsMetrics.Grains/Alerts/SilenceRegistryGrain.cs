using Microsoft.Extensions.DependencyInjection;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Alerts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// One shard of the silence schedule (see <see cref="ISilenceRegistryGrain"/>). Reentrant so that
/// an account reporting its due time while this shard sweeps (and calls that account) cannot
/// deadlock; writes are group-committed: a flush returns once a save that includes every change
/// made before it finished, changes that arrive before a save starts go out in it, and saves are
/// at least <see cref="AlertOptions.SilenceSaveInterval"/> apart.
/// </summary>
[Reentrant]
public sealed partial class SilenceRegistryGrain(
    [PersistentState("silence", StorageNames.Default)] IPersistentState<SilenceRegistryState> state,
    [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time,
    IOptions<AlertOptions> options,
    ILogger<SilenceRegistryGrain> logger) : Grain, ISilenceRegistryGrain
{
    private const int Parallelism = 8;
    // The save that has not started writing yet: every change made before it starts is in it.
    private TaskCompletionSource? _next;
    // The save writing now, if any.
    private TaskCompletionSource? _writing;
    // Changes made since the last save started, or left unsaved by a save that failed.
    private bool _dirty;
    private Task? _saving;
    private long? _lastSaveAt;
    private bool _sweeping;

    public Task SetDueAsync(string account, DateTimeOffset? due)
    {
        Set(account, due);
        return FlushAsync();
    }

    public Task QueueDueAsync(string account, DateTimeOffset? due)
    {
        Set(account, due);
        if (_dirty)
        {
            // Observed by FlushAsync (and so by the truncation round) if it fails; the shard is
            // dirty again then, and the next flush saves it.
            _ = SaveAsync();
        }
        return Task.CompletedTask;
    }

    public Task FlushAsync() => _dirty || _next is not null ? SaveAsync() : _writing?.Task ?? Task.CompletedTask;

    private void Set(string account, DateTimeOffset? due)
    {
        if (due is { } d)
        {
            if (!state.State.Due.TryGetValue(account, out var current) || current != d)
            {
                state.State.Due[account] = d;
                _dirty = true;
            }
        }
        else if (state.State.Due.Remove(account))
        {
            _dirty = true;
        }
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
            _dirty = true;
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
        _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var saved = _next.Task;
        if (_saving is null || _saving.IsCompleted)
        {
            _saving = SaveLoopAsync();
        }
        return saved;
    }

    private async Task SaveLoopAsync()
    {
        try
        {
            while (_next is { } batch)
            {
                var wait = _lastSaveAt is { } last ? options.Value.SilenceSaveInterval - time.GetElapsedTime(last) : TimeSpan.Zero;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, time);
                }
                // Changes from here on go into the save after this one.
                (_next, _writing, _dirty) = (null, batch, false);
                try
                {
                    await state.WriteStateAsync();
                    batch.TrySetResult();
                }
                catch (Exception e)
                {
                    _dirty = true; // what it carried is still only in memory
                    batch.TrySetException(e);
                }
                _writing = null;
                _lastSaveAt = time.GetTimestamp();
            }
        }
        finally
        {
            _saving = null;
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
