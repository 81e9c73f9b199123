using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace CsMetrics.Scoring.State;

/// <summary>
/// Asks the processor for an account's state before the engine reads it. On a node with 100,000
/// accounts the state of the account an event is for is almost never in the cache, and the engine
/// reaches it one pointer at a time: the state, then its usage, then the usage's list of days, then
/// that list's array, and so on for support, sentiment, billing, the evaluation and the alert track,
/// each a wait for memory of its own. Here the objects of each level are requested together, so the
/// waits overlap: about one per level instead of one per object. Only a hint: where the processor
/// has no prefetch instruction (or the state moves meanwhile) nothing changes but the speed.
/// </summary>
internal static class StatePrefetch
{
    public static void Account(AccountState state)
    {
        if (!Sse.IsSupported)
        {
            return;
        }
        // Level 1: the parts of the state.
        Object(state.Dedup);
        Object(state.Usage);
        Object(state.Support);
        Object(state.Sentiment);
        Object(state.Billing);
        Object(state.Evaluation);
        Object(state.Alerts);
        Object(state.History);
        Object(state.Profile);
        // Level 2: their lists (reading a part's fields waits for the part, and all of them were asked for above).
        var usage = state.Usage;
        var support = state.Support;
        var sentiment = state.Sentiment;
        var evaluation = state.Evaluation;
        Object(usage.Days);
        Object(support.Tickets);
        Object(support.Escalations);
        Object(sentiment.Nps);
        Object(sentiment.Csat);
        Object(state.Billing.Failures);
        Object(evaluation.Changes);
        Object(state.Alerts.Open);
        Object(state.History.BandChanges);
        var profile = state.Profile;
        Object(profile.Name);
        Object(profile.Segment);
        Object(profile.CsmOwner);
        Object(state.Billing.Mrr);
        // Level 3: the lists' arrays (their first and last items: the newest are read first).
        Items(usage.Days);
        Items(support.Tickets);
        Items(sentiment.Nps);
        Items(evaluation.Changes);
        Items(state.Alerts.Open);
        Items(state.History.BandChanges);
        state.Dedup.Prefetch();
    }

    private static void Items<T>(List<T>? list)
    {
        if (list is { Count: > 0 })
        {
            var items = CollectionsMarshal.AsSpan(list);
            Address(ref items[0]);
            Address(ref items[^1]);
        }
    }

    internal static unsafe void Address<T>(ref T at) => Sse.Prefetch0(Unsafe.AsPointer(ref at));

    private static unsafe void Object(object? o)
    {
        if (o is not null)
        {
            Sse.Prefetch0((void*)Unsafe.As<object, nint>(ref o));
        }
    }
}
