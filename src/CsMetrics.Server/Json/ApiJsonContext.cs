using System.Text.Json;
using System.Text.Json.Serialization;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Contracts.Alerts;
using CsMetrics.Server.Alerts;
using CsMetrics.Server.Health;
using CsMetrics.Server.Ingest;

namespace CsMetrics.Server.Json;

/// <summary>Source-generated JSON for every API response: no reflection on the hot path.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(IngestResponse))]
[JsonSerializable(typeof(AccountView))]
[JsonSerializable(typeof(HistoryView))]
[JsonSerializable(typeof(CsMetrics.Server.Query.AccountListResponse))]
[JsonSerializable(typeof(CsMetrics.Server.Query.PortfolioResponse))]
[JsonSerializable(typeof(AlertsResponse))]
[JsonSerializable(typeof(Alert))]
[JsonSerializable(typeof(WebhookView))]
[JsonSerializable(typeof(WebhooksResponse))]
[JsonSerializable(typeof(DeliveriesResponse))]
[JsonSerializable(typeof(ReplayedResponse))]
[JsonSerializable(typeof(CsMetrics.Server.Catalog.PublishedType))]
[JsonSerializable(typeof(CsMetrics.Server.Segment.SegmentResponse))]
[JsonSerializable(typeof(CsMetrics.Server.Quarantine.QuarantineResponse))]
[JsonSerializable(typeof(CsMetrics.Server.Quarantine.ReplayResponse))]
[JsonSerializable(typeof(WebhookDelivery))]
[JsonSerializable(typeof(HealthResponse))]
[JsonSerializable(typeof(CsMetrics.Server.Bench.NoScoreResponse))]
[JsonSerializable(typeof(CsMetrics.Server.Bench.GrainCallsResponse))]
[JsonSerializable(typeof(CsMetrics.Server.Bench.MemoryResponse))]
[JsonSerializable(typeof(CsMetrics.Server.Bench.GcResponse))]
internal sealed partial class ApiJsonContext : JsonSerializerContext;
