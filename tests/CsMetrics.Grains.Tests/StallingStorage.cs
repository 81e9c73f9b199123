using System.Collections.Concurrent;
using Orleans.Storage;

namespace CsMetrics.Grains.Tests;

/// <summary>
/// The cluster's grain storage (memory) with storage that stalls: a write for a chosen grain key
/// waits until the test lets it go, as a slow or hung storage service would.
/// </summary>
public sealed class StallingStorage
{
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _stalled = new(StringComparer.Ordinal);

    /// <summary>The last account snapshot written for each key, as storage received it.</summary>
    public ConcurrentDictionary<string, byte[]> Snapshots { get; } = new(StringComparer.Ordinal);

    /// <summary>Writes that reached storage, by grain key.</summary>
    public ConcurrentDictionary<string, int> Writes { get; } = new(StringComparer.Ordinal);

    public void Stall(string key) => _stalled[key] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release(string key)
    {
        if (_stalled.TryRemove(key, out var gate))
        {
            gate.SetResult();
        }
    }

    /// <summary>Lets a stalled write go on with an error, as a storage service that failed it.</summary>
    public void Fail(string key)
    {
        if (_stalled.TryRemove(key, out var gate))
        {
            gate.SetException(new IOException($"storage failed the write of {key} (test)"));
        }
    }

    public IGrainStorage Wrap(IGrainStorage inner) => new Storage(inner, this);

    private sealed class Storage(IGrainStorage inner, StallingStorage stalls) : IGrainStorage
    {
        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

        public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            var key = grainId.Key.ToString()!;
            stalls.Writes.AddOrUpdate(key, 1, (_, n) => n + 1);
            if (stalls._stalled.TryGetValue(key, out var gate))
            {
                await gate.Task;
            }
            if (grainState.State is CsMetrics.Grains.Accounts.AccountGrainState account)
            {
                stalls.Snapshots[key] = account.Snapshot.ToArray();
            }
            await inner.WriteStateAsync(stateName, grainId, grainState);
        }

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);
    }
}
