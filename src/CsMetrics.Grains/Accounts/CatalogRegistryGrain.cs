using CsMetrics.Contracts.Accounts;
using CsMetrics.Scoring.Catalog;

namespace CsMetrics.Grains.Accounts;

/// <summary>
/// See <see cref="ICatalogRegistryGrain"/>. Checks each publication against the catalog as it is
/// (built-in + file + everything published before) with <see cref="EventCatalog.With"/>, and keeps
/// every version: an event may still name an old one.
/// </summary>
public sealed class CatalogRegistryGrain(
    [PersistentState("catalog", StorageNames.Default)] IPersistentState<CatalogRegistryState> state,
    EventCatalog baseCatalog) : Grain, ICatalogRegistryGrain
{
    public async Task<CatalogPublishResult> PublishAsync(string schemaJson)
    {
        EventTypeSchema schema;
        try
        {
            schema = EventTypeSchema.Parse(schemaJson);
        }
        catch (System.Text.Json.JsonException e)
        {
            return new CatalogPublishResult($"body: not an event type ({e.Message})", Snapshot());
        }
        var current = Current();
        current.With(schema, out var error);
        if (error is not null)
        {
            return new CatalogPublishResult(error, Snapshot());
        }
        state.State.Schemas.Add(schema.ToJson());
        state.State.Revision++;
        await state.WriteStateAsync();
        return new CatalogPublishResult(null, Snapshot());
    }

    public Task<CatalogSnapshot> GetAsync() => Task.FromResult(Snapshot());

    private EventCatalog Current()
    {
        var catalog = baseCatalog;
        foreach (var json in state.State.Schemas)
        {
            catalog = catalog.With(EventTypeSchema.Parse(json), out _);
        }
        return catalog;
    }

    private CatalogSnapshot Snapshot() => new(state.State.Revision, [.. state.State.Schemas]);
}

[GenerateSerializer, Alias("csm.CatalogRegistryState")]
public sealed class CatalogRegistryState
{
    [Id(0)] public long Revision { get; set; }

    [Id(1)] public List<string> Schemas { get; set; } = [];
}
