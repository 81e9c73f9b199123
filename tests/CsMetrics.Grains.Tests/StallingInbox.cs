using System.Collections.Concurrent;
using CsMetrics.Contracts.Alerts;

namespace CsMetrics.Grains.Tests;

/// <summary>
/// The cluster's alert inbox, slow on demand: a query about a chosen account waits until the test
/// lets it go, as an inbox busy with a large snapshot or a slow store would answer.
/// </summary>
public sealed class StallingInbox : IIncomingGrainCallFilter
{
    private readonly ConcurrentDictionary<string, (TaskCompletionSource Arrived, TaskCompletionSource Gate)> _stalled = new(StringComparer.Ordinal);

    public void Stall(string account) => _stalled[account] = (
        new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously),
        new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Completes once a query about the account is waiting.</summary>
    public Task ArrivedAsync(string account) => _stalled[account].Arrived.Task;

    public void Release(string account)
    {
        if (_stalled.TryRemove(account, out var stall))
        {
            stall.Gate.TrySetResult();
        }
    }

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.Grain is IAlertInboxGrain && context.Request.GetArgumentCount() == 1
            && context.Request.GetArgument(0) is AlertQuery { Account: { } account }
            && _stalled.TryGetValue(account, out var stall))
        {
            stall.Arrived.TrySetResult();
            await stall.Gate.Task;
        }
        await context.Invoke();
    }
}
