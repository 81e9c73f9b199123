using Orleans.Storage;

namespace CsMetrics.Storage.AzureTable.Hosting;

/// <summary>Options of one named Azure Table grain storage provider.</summary>
public sealed class AzureTableStorageOptions : IStorageProviderSerializerOptions
{
    /// <summary>
    /// An Azure Storage connection string: a real account, or Azurite's long form
    /// (<c>...;TableEndpoint=http://127.0.0.1:PORT/devstoreaccount1;</c>). A secret: never logged.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>The table grain state lives in; created at silo start.</summary>
    public string TableName { get; set; } = "csmetricsstate";

    /// <summary>Per-request timeout against storage.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Grains share this many partitions (by a stable hash of the grain id), so that concurrent
    /// writes go out as entity-group transactions and activations read a partition at a time.
    /// 0 gives every grain its own partition, as the upstream Orleans provider does.
    /// </summary>
    public int PartitionBuckets { get; set; } = 256;

    /// <summary>
    /// Grain state is spread over this many tables (<c>TableName</c>, then <c>TableName</c> with
    /// 01, 02, ...; whole partitions, by bucket), with <see cref="PartitionBuckets"/> &gt; 0 (with 0,
    /// every grain has a partition of its own and the state stays in one table). On
    /// Azurite a write costs in proportion to the number of entities in its table: 100-entity
    /// transactions of 2 KB entities ran at 526 entities/s into a table of 100,000 and 1,244/s into
    /// one of 6,000 beside it (747 and 5,459/s with Azurite in memory). Azure Table Storage does not
    /// care either way. Fixed for the life of the data: the first start records it in
    /// <c>TableName</c> (state written before this setting existed counts as one table), and a start
    /// with another value refuses to run rather than look for state in the wrong tables.
    /// </summary>
    public int TableShards { get; set; } = 16;

    /// <summary>The tables state is spread over: <see cref="TableShards"/>, or 1 with a partition per grain.</summary>
    internal int EffectiveTableShards => PartitionBuckets > 0 ? Math.Max(1, TableShards) : 1;

    /// <summary>
    /// State names (comma-separated) whose states are packed: many grains' states in one entity of
    /// their shared partition, with one index entity per partition naming each grain's newest state
    /// (see <c>PackedPartitions</c>). Writes stay conditional on the grain's ETag, across nodes too.
    /// Azure Table, and Azurite far more, charges per entity: 100,000 states of 900 bytes took
    /// Azurite 9-17 s as rows in 100-entity transactions and 1.0-1.4 s as 256 entities. Worth it
    /// for many small states written together (an account's checkpoint); a state written alone costs
    /// about the same either way, plus rewriting its partition's index. Needs
    /// <see cref="PartitionBuckets"/> &gt; 0. A state stored as a row before its name was listed is
    /// read as before, and its first packed write deletes the row.
    /// </summary>
    public string PackedStates { get; set; } = "";

    /// <summary>The most bytes of state one pack takes (a larger state goes alone).</summary>
    public int PackBytes { get; set; } = 512 * 1024;

    /// <summary>The state names listed in <see cref="PackedStates"/>.</summary>
    internal IReadOnlySet<string> PackedStateNames =>
        (PackedStates ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// How long a partition read at activation keeps serving the grains of that partition after
    /// the last one used it. 0 turns the partition reads off (every activation reads its own row).
    /// </summary>
    public TimeSpan PrefetchLifetime { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest a partition read serves activations, however busy it is.</summary>
    public TimeSpan PrefetchMaxAge { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most bytes of grain state partition reads hold at once; past it activations read their own row.</summary>
    public long PrefetchBudgetBytes { get; set; } = 256L * 1024 * 1024;

    /// <inheritdoc />
    public IGrainStorageSerializer GrainStorageSerializer { get; set; } = null!;

    /// <summary>Largest binary property Azure Table accepts.</summary>
    public const int MaxPropertyBytes = 64 * 1024;

    /// <summary>Data, Data1 .. Data14: what fits in one 1 MB entity with room for the keys.</summary>
    public const int MaxDataProperties = 15;

    public const int MaxStateBytes = MaxPropertyBytes * MaxDataProperties;
}
