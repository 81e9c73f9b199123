namespace CsMetrics.Contracts.Storage;

/// <summary>A record kept by a <see cref="IChangeStore{T}"/>: its key, and the number of the change that made it.</summary>
public interface IChangeRecord
{
    /// <summary>What identifies the record: a later change with the same key replaces it.</summary>
    string Key { get; }

    /// <summary>The number of the change, ascending in the order changes are appended.</summary>
    long Sequence { get; }
}

/// <summary>
/// A log-structured store of keyed records (the alert inbox, the portfolio shards): changes are
/// appended in batches, a snapshot of every current record is written now and then, and loading
/// reads the latest snapshot with the changes after it.
/// </summary>
public interface IChangeStore<T> where T : IChangeRecord
{
    /// <summary>Appends changes (each at its sequence number, ascending); returns when durable.</summary>
    Task AppendAsync(IReadOnlyList<T> changes, CancellationToken cancellationToken = default);

    /// <summary>Every record's current form (the latest snapshot with the changes after it), and the highest sequence number saved.</summary>
    Task<(List<T> Records, long LastSequence)> LoadAsync(CancellationToken cancellationToken = default);

    /// <summary>Saved changes with a sequence number above <paramref name="after"/>, oldest first.</summary>
    Task<List<T>> ReadChangesAsync(long after, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records every record's current form as of <paramref name="upTo"/> (records left out are forgotten),
    /// then forgets changes numbered below <paramref name="changesBefore"/> that the snapshot covers.
    /// </summary>
    Task SnapshotAsync(IReadOnlyCollection<T> records, long upTo, long changesBefore, CancellationToken cancellationToken = default);
}
