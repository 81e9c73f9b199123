namespace CsMetrics.Server.Hosting;

/// <summary>This node's place in the cluster (section <c>CsMetrics:Node</c>).</summary>
public sealed class NodeOptions
{
    public const string Section = "CsMetrics:Node";

    /// <summary>Names this deployment; storage keys include it, so set it once and keep it.</summary>
    public string ServiceId { get; set; } = "csmetrics";
    /// <summary>Names one cluster of the deployment; nodes with the same id form one cluster.</summary>
    public string ClusterId { get; set; } = "local";
    /// <summary>Silo-to-silo port. Each node on one machine needs its own.</summary>
    public int SiloPort { get; set; } = 11111;
    /// <summary>Client gateway port. Each node on one machine needs its own.</summary>
    public int GatewayPort { get; set; } = 30000;
    /// <summary>Silo port of the first node, for a second node on the same machine; empty on the first node.</summary>
    public int? PrimarySiloPort { get; set; }
}

/// <summary>Where grain state lives (section <c>CsMetrics:Storage</c>).</summary>
public sealed class StorageOptions
{
    public const string Section = "CsMetrics:Storage";

    /// <summary>
    /// <c>AzureTable</c>: grain state and the event log in Azure Table Storage (Azurite locally).
    /// <c>Memory</c>: nothing survives a restart (throwaway nodes, quick tries).
    /// </summary>
    public string Provider { get; set; } = StorageProviders.AzureTable;

    /// <summary>The table alerts and their changes live in (with the <c>AzureTable</c> provider); created at start.</summary>
    public string AlertTableName { get; set; } = "csmetricsalerts";

    /// <summary>The table the portfolio index (the at-risk list and the portfolio summary) lives in (with the <c>AzureTable</c> provider); created at first use.</summary>
    public string ViewTableName { get; set; } = "csmetricsviews";

    /// <summary>The table rejected (and late) events are kept in (with the <c>AzureTable</c> provider); created at first use.</summary>
    public string QuarantineTableName { get; set; } = "csmetricsquarantine";

    /// <summary>Settings of the Azure Table provider (section <c>CsMetrics:Storage:AzureTable</c>).</summary>
    public CsMetrics.Storage.AzureTable.Hosting.AzureTableStorageOptions AzureTable { get; set; } = new();
}

public static class StorageProviders
{
    public const string Memory = "Memory";
    public const string AzureTable = "AzureTable";
    public static readonly IReadOnlyList<string> All = [AzureTable, Memory];
}

/// <summary>The scoring model and event catalog files (section <c>CsMetrics:Model</c>).</summary>
public sealed class ModelOptions
{
    public const string Section = "CsMetrics:Model";

    /// <summary>A scoring model JSON file; empty uses the model that ships with CsMetrics.</summary>
    public string? Path { get; set; }
    /// <summary>A file of the team's own event types, added to the built-in catalog; empty for none.</summary>
    public string? CatalogPath { get; set; }
}

/// <summary>Limits of <c>POST /v1/events</c> and the Segment routes (section <c>CsMetrics:Ingest</c>).</summary>
public sealed class IngestOptions
{
    public const string Section = "CsMetrics:Ingest";

    public int MaxEvents { get; set; } = 5000;
    public int MaxBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Ingest requests this node works on at once (<c>POST /v1/events</c> and the Segment routes
    /// together); past it and <see cref="MaxQueuedRequests"/> a request is answered 503 with
    /// <c>Retry-After</c> before its body is read. Bounds the memory bodies can take and the work
    /// queued behind the admitted requests; 0 turns the bound off. Default: 8 per
    /// processor (the work is CPU-bound; a 2-core node is saturated by about 8 requests of 500 events).
    /// </summary>
    public int MaxRequestsInFlight { get; set; } = 8 * Environment.ProcessorCount;

    /// <summary>Ingest requests that wait, oldest first, for one in flight to finish before being refused. Default: 8 per processor.</summary>
    public int MaxQueuedRequests { get; set; } = 8 * Environment.ProcessorCount;
}
