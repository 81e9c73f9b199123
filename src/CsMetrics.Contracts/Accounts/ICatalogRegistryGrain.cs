using Orleans.Concurrency;

namespace CsMetrics.Contracts.Accounts;

/// <summary>
/// The schema registry's custom part (one grain, key 0): event types and versions published
/// through the admin API, on top of the built-in catalog and the catalog file. Every node
/// follows its revision, so a type published on one node is accepted on all of them.
/// </summary>
[Alias("csm.ICatalogRegistryGrain")]
public interface ICatalogRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Adds or changes one type version (JSON of an event type); refused with the reason when it would break producers.</summary>
    [Alias("PublishAsync")]
    Task<CatalogPublishResult> PublishAsync(string schemaJson);

    [Alias("GetAsync"), ReadOnly, AlwaysInterleave]
    Task<CatalogSnapshot> GetAsync();
}

[GenerateSerializer, Immutable, Alias("csm.CatalogPublishResult")]
public sealed record CatalogPublishResult([property: Id(0)] string? Error, [property: Id(1)] CatalogSnapshot Snapshot);

/// <summary>The published type versions (JSON, in publishing order) at one revision.</summary>
[GenerateSerializer, Immutable, Alias("csm.CatalogSnapshot")]
public sealed record CatalogSnapshot([property: Id(0)] long Revision, [property: Id(1)] string[] Schemas);
