namespace CsMetrics.Server.Durability;

/// <summary>
/// The log entries appended during one truncation interval, and which accounts were fed from
/// them by which grain incarnation. Entries may be deleted once every account here has
/// checkpointed as the incarnation that received them (or has been fed them again).
/// </summary>
internal sealed class LogEpoch
{
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private bool _sealed;

    public Dictionary<string, List<long>> Sequences { get; } = [];

    public Dictionary<string, Mark> Accounts { get; } = new(StringComparer.Ordinal);

    /// <summary>Which incarnation of an account received events; suspect if that is uncertain.</summary>
    internal struct Mark
    {
        public Guid Incarnation;
        public bool Suspect;
    }

    public bool IsEmpty
    {
        get
        {
            lock (_gate)
            {
                return Accounts.Count == 0 && Sequences.Count == 0;
            }
        }
    }

    public bool TryEnter()
    {
        lock (_gate)
        {
            if (_sealed)
            {
                return false;
            }
            _inFlight++;
            return true;
        }
    }

    public void Leave()
    {
        lock (_gate)
        {
            if (--_inFlight == 0 && _sealed)
            {
                _drained.TrySetResult();
            }
        }
    }

    /// <summary>No new request joins; completes when the ones inside have finished delivering.</summary>
    public Task SealAsync()
    {
        lock (_gate)
        {
            _sealed = true;
            if (_inFlight == 0)
            {
                _drained.TrySetResult();
            }
        }
        return _drained.Task;
    }

    public void AddSequences(string logId, IEnumerable<long> sequences)
    {
        lock (_gate)
        {
            if (!Sequences.TryGetValue(logId, out var list))
            {
                Sequences[logId] = list = [];
            }
            list.AddRange(sequences);
        }
    }

    public void Delivered(string account, Guid incarnation)
    {
        lock (_gate)
        {
            DeliveredLocked(account, incarnation);
        }
    }

    /// <summary>
    /// Records one request's deliveries under one lock: each account's incarnation, or that its
    /// delivery failed or never started (a null call), so truncation feeds it again first.
    /// </summary>
    public void Record(string[] accounts, Task<Contracts.Accounts.AccountIngestResult>?[] calls)
    {
        lock (_gate)
        {
            for (var i = 0; i < calls.Length; i++)
            {
                if (calls[i] is { IsCompletedSuccessfully: true })
                {
                    DeliveredLocked(accounts[i], calls[i]!.Result.Incarnation);
                }
                else
                {
                    // Durable but maybe not applied: truncation delivers it again before forgetting it.
                    Accounts[accounts[i]] = new Mark { Incarnation = Guid.Empty, Suspect = true };
                }
            }
        }
    }

    private void DeliveredLocked(string account, Guid incarnation)
    {
        // One lookup per account (the table holds every account fed this interval: 100,000 under load).
        ref var mark = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(Accounts, account, out var existed);
        // Two incarnations got events: the first may have gone without checkpointing.
        mark = new Mark { Incarnation = incarnation, Suspect = mark.Suspect || (existed && mark.Incarnation != incarnation) };
    }

    /// <summary>Carries a failed truncation's work into the next one.</summary>
    public void Absorb(LogEpoch older)
    {
        foreach (var (logId, sequences) in older.Sequences)
        {
            AddSequences(logId, sequences);
        }
        foreach (var (account, mark) in older.Accounts)
        {
            lock (_gate)
            {
                if (Accounts.TryGetValue(account, out var current))
                {
                    Accounts[account] = new Mark { Incarnation = current.Incarnation, Suspect = current.Suspect || mark.Suspect || current.Incarnation != mark.Incarnation };
                }
                else
                {
                    Accounts[account] = mark;
                }
            }
        }
    }
}
