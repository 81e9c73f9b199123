using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using Azure;
using Azure.Data.Tables;

namespace CsMetrics.Storage.AzureTable.Storage;

/// <summary>
/// Packed grain state: many grains' states in one entity ("pack") of their shared partition, and
/// one index entity ("head") per partition that names, for each grain, the stamp of its newest
/// state and the pack holding it. Azure Table (and Azurite far more) charges per entity, so the
/// states a truncation round writes together cost a few entities per partition instead of one
/// each.
/// </summary>
/// <remarks>
/// <para>Every write is one entity-group transaction: insert the new pack, replace the head
/// conditional on its ETag, delete the packs no grain references any more (and a grain's row from
/// before packing, conditional on its ETag). So the head and the packs it names always agree, and
/// a reader that finds the head finds the states.</para>
/// <para>A grain's ETag is <c>p{stamp}</c>, the stamp the head holds for it; stamps come from one
/// counter per partition, so a state cleared and written again never repeats one. A write whose
/// ETag is not the head's stamp for that grain is a conflict, exactly like a row's ETag: the
/// writer checks against its copy of the head, and the head's own ETag makes the transaction fail
/// if another node changed the partition meanwhile (the writer reloads the head and checks again).</para>
/// <para>Packs whose states were mostly superseded, and packs of a few states, are compacted: their
/// live states are carried into the next pack of the partition (stamps unchanged) and the old pack
/// deleted.</para>
/// </remarks>
internal sealed class PackedPartitions(TableClient table, int packBytes)
{
    private readonly TableClient _table = table;
    private readonly int _packBytes = packBytes;

    internal const string HeadRow = "~head";
    private const string PackRowPrefix = "~pack~";
    private const int MaxActions = 100;
    private const int MaxDeadPerTransaction = 40;
    // A pack of this few states (one written alone: a deactivation, a checkpoint between rounds) is merged into the next write.
    private const int SmallPack = 8;

    private readonly ConcurrentDictionary<string, Writer> _writers = new(StringComparer.Ordinal);

    internal static string PackRow(long pack) => PackRowPrefix + pack.ToString("D12", System.Globalization.CultureInfo.InvariantCulture);

    internal static bool IsPackedEtag(string? etag) => etag is ['p', ..] && long.TryParse(etag.AsSpan(1), out _);

    internal static string Etag(long stamp) => "p" + stamp.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Bytes a state takes in a pack beyond its own (the count is shared, so this overstates by 4):
    /// the largest packed state is one entity's worth less this, and packs count it toward
    /// <c>PackBytes</c>, so many tiny states cannot outgrow an entity.
    /// </summary>
    internal static int Overhead(string row) => 4 + 2 + Encoding.UTF8.GetByteCount(row) + 12;

    /// <summary>Queues a conditional write of one grain's state and returns its new ETag.</summary>
    public Task<string?> WriteAsync(string partition, string row, string? etag, ReadOnlyMemory<byte> data) =>
        Enqueue(partition, new Pending(row, etag, data, clear: false));

    /// <summary>Queues a conditional removal of one grain's state.</summary>
    public Task<string?> ClearAsync(string partition, string row, string etag) =>
        Enqueue(partition, new Pending(row, etag, ReadOnlyMemory<byte>.Empty, clear: true));

    private Task<string?> Enqueue(string partition, Pending pending)
    {
        _writers.GetOrAdd(partition, p => new Writer(this, p)).Enqueue(pending);
        return pending.Done.Task;
    }

    /// <summary>
    /// A grain's packed state read directly (no partition page): the head, then the pack it names.
    /// Null when the head does not know the grain (its state may still be a row from before packing).
    /// </summary>
    public async Task<TableEntity?> ReadAsync(string partition, string row, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var headEntity = await _table.GetEntityIfExistsAsync<TableEntity>(partition, HeadRow, cancellationToken: cancellationToken);
            if (!headEntity.HasValue || !Head.Decode(headEntity.Value!).Grains.TryGetValue(row, out var where))
            {
                return null;
            }
            var pack = await _table.GetEntityIfExistsAsync<TableEntity>(partition, PackRow(where.Pack), cancellationToken: cancellationToken);
            if (pack.HasValue && Find(pack.Value!, row, where.Stamp) is { } entity)
            {
                return entity;
            }
            if (attempt >= 5)
            {
                throw new InvalidDataException($"Packed state {partition}/{row}: the head names stamp {where.Stamp} in pack {where.Pack}, which does not hold it");
            }
            // A newer write replaced the head and deleted that pack between the two reads: read the head again.
        }
    }

    /// <summary>
    /// Turns a whole partition as read by a query into grain states: the head's grains come out of
    /// their packs (taking the place of any row from before packing); the head and packs themselves
    /// leave the page. A grain whose pack is missing (written while the query ran) leaves the page too,
    /// so it is read on its own.
    /// </summary>
    public static void Resolve(IDictionary<string, TableEntity?> page)
    {
        if (!page.TryGetValue(HeadRow, out var headEntity) || headEntity is null)
        {
            return;
        }
        var head = Head.Decode(headEntity);
        var packs = new Dictionary<long, Dictionary<string, (long Stamp, ReadOnlyMemory<byte> Data)>>();
        foreach (var key in page.Keys.Where(k => k.StartsWith(PackRowPrefix, StringComparison.Ordinal)).ToList())
        {
            if (page[key] is { } pack && long.TryParse(key.AsSpan(PackRowPrefix.Length), out var id))
            {
                packs[id] = DecodePack(pack);
            }
            page.Remove(key);
        }
        page.Remove(HeadRow);
        foreach (var (row, where) in head.Grains)
        {
            if (packs.TryGetValue(where.Pack, out var entries) && entries.TryGetValue(row, out var entry) && entry.Stamp == where.Stamp)
            {
                page[row] = Entity(headEntity.PartitionKey, row, entry.Stamp, entry.Data);
            }
            else
            {
                page[row] = null; // not known from this page: read on its own
            }
        }
    }

    private static TableEntity? Find(TableEntity pack, string row, long stamp) =>
        DecodePack(pack).TryGetValue(row, out var entry) && entry.Stamp == stamp ? Entity(pack.PartitionKey, row, stamp, entry.Data) : null;

    /// <summary>A grain's state as if it were a row: the provider reads it like one, and its ETag is the stamp.</summary>
    private static TableEntity Entity(string partition, string row, long stamp, ReadOnlyMemory<byte> data)
    {
        var entity = AzureTableGrainStorage.Split(partition, row, data);
        entity.ETag = new ETag(Etag(stamp));
        return entity;
    }

    // A pack: [count] then per state [row length][row UTF-8][stamp][data length][data].
    private static byte[] EncodePack(List<(string Row, long Stamp, ReadOnlyMemory<byte> Data)> states)
    {
        var size = 4;
        foreach (var s in states)
        {
            size += 2 + Encoding.UTF8.GetByteCount(s.Row) + 8 + 4 + s.Data.Length;
        }
        var buffer = new byte[size];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, states.Count);
        var at = 4;
        foreach (var (row, stamp, data) in states)
        {
            var length = Encoding.UTF8.GetBytes(row, span[(at + 2)..]);
            BinaryPrimitives.WriteUInt16LittleEndian(span[at..], checked((ushort)length));
            at += 2 + length;
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], stamp);
            BinaryPrimitives.WriteInt32LittleEndian(span[(at + 8)..], data.Length);
            at += 12;
            data.Span.CopyTo(span[at..]);
            at += data.Length;
        }
        return buffer;
    }

    private static Dictionary<string, (long Stamp, ReadOnlyMemory<byte> Data)> DecodePack(TableEntity pack)
    {
        var bytes = AzureTableGrainStorage.Join(pack).ToMemory();
        var span = bytes.Span;
        var count = BinaryPrimitives.ReadInt32LittleEndian(span);
        var states = new Dictionary<string, (long, ReadOnlyMemory<byte>)>(count, StringComparer.Ordinal);
        var at = 4;
        for (var i = 0; i < count; i++)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(span[at..]);
            var row = Encoding.UTF8.GetString(span.Slice(at + 2, length));
            at += 2 + length;
            var stamp = BinaryPrimitives.ReadInt64LittleEndian(span[at..]);
            var dataLength = BinaryPrimitives.ReadInt32LittleEndian(span[(at + 8)..]);
            at += 12;
            states[row] = (stamp, bytes.Slice(at, dataLength));
            at += dataLength;
        }
        return states;
    }

    private sealed class Pending(string row, string? etag, ReadOnlyMemory<byte> data, bool clear)
    {
        public string Row { get; } = row;
        public string? ETag { get; } = etag;
        public ReadOnlyMemory<byte> Data { get; } = data;
        public bool Clear { get; } = clear;
        public TaskCompletionSource<string?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>One partition's writes, one transaction at a time; what queues meanwhile goes into the next pack.</summary>
    private sealed class Writer
    {
        private readonly PackedPartitions _owner;
        private readonly string _partition;
        private readonly GroupingQueue<Pending> _queue;
        private Head? _head;

        public Writer(PackedPartitions owner, string partition)
        {
            (_owner, _partition) = (owner, partition);
            _queue = new GroupingQueue<Pending>(Take, HandleAsync);
        }

        public void Enqueue(Pending pending) => _queue.Enqueue(pending);

        private async Task HandleAsync(List<Pending> group)
        {
            try
            {
                await WriteAsync(group);
            }
            catch (Exception e)
            {
                _head = null; // whatever happened to it, read the head again next time
                foreach (var p in group)
                {
                    p.Done.TrySetException(e);
                }
            }
        }

        /// <summary>One write per grain, at most a pack's bytes (a larger state goes alone), and room for the deletes.</summary>
        private List<Pending> Take(List<Pending> queue)
        {
            var group = new List<Pending>();
            var rows = new HashSet<string>(StringComparer.Ordinal);
            var bytes = 0;
            var legacy = 0;
            for (var i = 0; i < queue.Count; i++)
            {
                var p = queue[i];
                var isLegacy = p.ETag is not null && !IsPackedEtag(p.ETag);
                if (rows.Contains(p.Row) || (group.Count > 0 && bytes + p.Data.Length + Overhead(p.Row) > _owner._packBytes) || legacy + (isLegacy ? 1 : 0) > MaxActions - MaxDeadPerTransaction - 2)
                {
                    continue;
                }
                rows.Add(p.Row);
                group.Add(p);
                bytes += p.Data.Length + Overhead(p.Row);
                legacy += isLegacy ? 1 : 0;
            }
            return group;
        }

        private async Task WriteAsync(List<Pending> group)
        {
            for (var attempt = 0; ; attempt++)
            {
                var fresh = _head is null;
                _head ??= await LoadHeadAsync();
                var head = _head;
                if (!fresh && group.Any(p => !Matches(head, p)))
                {
                    // The copy of the index may be older than the version a grain read (another node wrote
                    // that grain since): judge a mismatch only against the index as stored now.
                    _head = null;
                    continue;
                }
                var next = head.Clone();
                var accepted = new List<(Pending Write, long Stamp)>();
                var states = new List<(string Row, long Stamp, ReadOnlyMemory<byte> Data)>();
                var legacyDeletes = new List<(Pending Write, TableTransactionAction Action)>();
                var packId = next.NextPack;
                foreach (var p in group)
                {
                    var known = head.Grains.TryGetValue(p.Row, out var where);
                    if (!Matches(head, p))
                    {
                        p.Done.TrySetException(new PackConflictException(
                            $"the stored version is {(known ? Etag(where.Stamp) : "none")}, the write expected {p.ETag ?? "none"}"));
                        continue;
                    }
                    if (p.ETag is not null && !IsPackedEtag(p.ETag))
                    {
                        legacyDeletes.Add((p, new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(_partition, p.Row), new ETag(p.ETag))));
                    }
                    if (p.Clear)
                    {
                        next.Grains.Remove(p.Row);
                        accepted.Add((p, 0));
                        continue;
                    }
                    var stamp = next.NextStamp++;
                    next.Grains[p.Row] = (stamp, packId);
                    states.Add((p.Row, stamp, p.Data));
                    accepted.Add((p, stamp));
                }
                if (accepted.Count == 0)
                {
                    return;
                }
                if (states.Count > 0)
                {
                    await CompactAsync(head, next, states, packId);
                }
                var actions = new List<TableTransactionAction>();
                if (states.Count > 0)
                {
                    next.NextPack++;
                    next.Packs[packId] = states.Count;
                    var pack = AzureTableGrainStorage.Split(_partition, PackRow(packId), EncodePack(states));
                    actions.Add(new TableTransactionAction(TableTransactionActionType.Add, pack));
                }
                var legacyAt = actions.Count;
                actions.AddRange(legacyDeletes.Select(d => d.Action));
                // Packs no grain points to any more: delete them in the same transaction, some per write.
                var live = next.LiveCounts();
                foreach (var dead in next.Packs.Keys.Where(id => !live.ContainsKey(id)).ToList())
                {
                    next.Packs.Remove(dead);
                    next.Dead.Add(dead);
                }
                var deleting = next.Dead.Take(MaxDeadPerTransaction).ToList();
                next.Dead.RemoveRange(0, deleting.Count);
                actions.AddRange(deleting.Select(id => new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(_partition, PackRow(id)), ETag.All)));
                var headAt = actions.Count;
                var headEntity = next.Encode(_partition);
                actions.Add(head.ETag is { } etag
                    ? new TableTransactionAction(TableTransactionActionType.UpdateReplace, headEntity, etag)
                    : new TableTransactionAction(TableTransactionActionType.Add, headEntity));
                try
                {
                    var response = await _owner._table.SubmitTransactionAsync(actions);
                    next.ETag = response.Value[headAt].Headers.ETag;
                    _head = next;
                    foreach (var (p, stamp) in accepted)
                    {
                        p.Done.TrySetResult(p.Clear ? null : Etag(stamp));
                    }
                    return;
                }
                catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is { } failed && failed >= legacyAt && failed < legacyAt + legacyDeletes.Count)
                {
                    // A row from before packing changed or went since its grain read it: that write conflicts, the rest go again.
                    var (write, _) = legacyDeletes[failed - legacyAt];
                    write.Done.TrySetException(new PackConflictException($"the grain's row changed since it was read (HTTP {e.Status})"));
                    group.Remove(write);
                }
                catch (TableTransactionFailedException e) when (e.FailedTransactionActionIndex is { } failed && failed >= legacyAt + legacyDeletes.Count && failed < headAt && e.Status == 404)
                {
                    // A dead pack another writer deleted already: forget it and go again.
                    var gone = deleting[failed - legacyAt - legacyDeletes.Count];
                    head.Packs.Remove(gone);
                    head.Dead.Remove(gone);
                }
                catch (RequestFailedException e) when (e.Status is 409 or 412 && attempt < 20)
                {
                    // Another node changed the partition's head since this one read it: read it again and check again.
                    _head = null;
                }
                group.RemoveAll(p => p.Done.Task.IsCompleted);
                if (group.Count == 0)
                {
                    return;
                }
            }
        }

        /// <summary>Whether a write's ETag is the version the index holds for its grain (none for an insert).</summary>
        private static bool Matches(Head head, Pending p)
        {
            var known = head.Grains.TryGetValue(p.Row, out var where);
            return p.ETag switch
            {
                null => !known,
                _ when IsPackedEtag(p.ETag) => known && Etag(where.Stamp) == p.ETag,
                _ => !known, // a row from before packing: its ETag is checked by the delete in the transaction
            };
        }

        /// <summary>
        /// Carries the live states of one mostly superseded or small pack into the pack being
        /// written, so that the old pack can go; at most one pack per write, and only while the new
        /// pack has room. Keeps a partition at a few packs, and a single state's write at a few states.
        /// </summary>
        private async Task CompactAsync(Head head, Head next, List<(string Row, long Stamp, ReadOnlyMemory<byte> Data)> states, long packId)
        {
            var live = next.LiveCounts();
            var bytes = states.Sum(s => s.Data.Length + Overhead(s.Row));
            foreach (var (id, total) in head.Packs)
            {
                if (id == packId || !live.TryGetValue(id, out var count) || (count * 4 > total && total > SmallPack))
                {
                    continue;
                }
                var pack = await _owner._table.GetEntityIfExistsAsync<TableEntity>(_partition, PackRow(id));
                if (!pack.HasValue)
                {
                    return;
                }
                var carried = DecodePack(pack.Value!)
                    .Where(e => next.Grains.TryGetValue(e.Key, out var w) && w.Pack == id && w.Stamp == e.Value.Stamp)
                    .ToList();
                if (bytes + carried.Sum(c => c.Value.Data.Length + Overhead(c.Key)) > _owner._packBytes)
                {
                    return;
                }
                foreach (var (row, (stamp, data)) in carried)
                {
                    next.Grains[row] = (stamp, packId);
                    states.Add((row, stamp, data));
                }
                return;
            }
        }

        private async Task<Head> LoadHeadAsync()
        {
            var entity = await _owner._table.GetEntityIfExistsAsync<TableEntity>(_partition, HeadRow);
            return entity.HasValue ? Head.Decode(entity.Value!) : new Head();
        }
    }

    /// <summary>The partition's index: each grain's newest stamp and pack, each pack's size when written, packs to delete.</summary>
    internal sealed class Head
    {
        private const int Format = 1;

        public Dictionary<string, (long Stamp, long Pack)> Grains { get; } = new(StringComparer.Ordinal);
        public Dictionary<long, int> Packs { get; } = [];
        public List<long> Dead { get; } = [];
        public long NextStamp { get; set; } = 1;
        public long NextPack { get; set; } = 1;
        public ETag? ETag { get; set; }

        public Head Clone()
        {
            var copy = new Head { NextStamp = NextStamp, NextPack = NextPack };
            foreach (var (k, v) in Grains)
            {
                copy.Grains[k] = v;
            }
            foreach (var (k, v) in Packs)
            {
                copy.Packs[k] = v;
            }
            copy.Dead.AddRange(Dead);
            return copy;
        }

        public Dictionary<long, int> LiveCounts()
        {
            var counts = new Dictionary<long, int>();
            foreach (var (_, pack) in Grains.Values)
            {
                counts[pack] = counts.GetValueOrDefault(pack) + 1;
            }
            return counts;
        }

        public TableEntity Encode(string partition)
        {
            using var stream = new MemoryStream();
            using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                writer.Write(Format);
                writer.Write(NextStamp);
                writer.Write(NextPack);
                writer.Write(Packs.Count);
                foreach (var (id, total) in Packs)
                {
                    writer.Write(id);
                    writer.Write(total);
                }
                writer.Write(Dead.Count);
                foreach (var id in Dead)
                {
                    writer.Write(id);
                }
                writer.Write(Grains.Count);
                foreach (var (row, (stamp, pack)) in Grains)
                {
                    writer.Write(row);
                    writer.Write(stamp);
                    writer.Write(pack);
                }
            }
            var bytes = stream.ToArray();
            if (bytes.Length > Hosting.AzureTableStorageOptions.MaxStateBytes)
            {
                throw new InvalidOperationException($"The index of partition {partition} is {bytes.Length} bytes, more than one entity holds: raise PartitionBuckets");
            }
            return AzureTableGrainStorage.Split(partition, HeadRow, bytes);
        }

        public static Head Decode(TableEntity entity)
        {
            var head = new Head { ETag = entity.ETag };
            using var reader = new BinaryReader(AzureTableGrainStorage.Join(entity).ToStream(), Encoding.UTF8);
            var format = reader.ReadInt32();
            if (format != Format)
            {
                throw new InvalidDataException($"Packed-state index {entity.PartitionKey}/{entity.RowKey} has format {format}; this version reads {Format}");
            }
            head.NextStamp = reader.ReadInt64();
            head.NextPack = reader.ReadInt64();
            for (var n = reader.ReadInt32(); n > 0; n--)
            {
                head.Packs[reader.ReadInt64()] = reader.ReadInt32();
            }
            for (var n = reader.ReadInt32(); n > 0; n--)
            {
                head.Dead.Add(reader.ReadInt64());
            }
            for (var n = reader.ReadInt32(); n > 0; n--)
            {
                head.Grains[reader.ReadString()] = (reader.ReadInt64(), reader.ReadInt64());
            }
            return head;
        }
    }
}

/// <summary>A packed write whose ETag is not the stored version; the provider turns it into an <see cref="Orleans.Storage.InconsistentStateException"/>.</summary>
internal sealed class PackConflictException(string message) : Exception(message);
