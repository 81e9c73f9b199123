using CsMetrics.Server.Alerts;
using CsMetrics.Server.Bench;
using CsMetrics.Server.Health;
using CsMetrics.Server.Hosting;
using CsMetrics.Server.Ingest;
using CsMetrics.Server.Query;

var builder = WebApplication.CreateBuilder(args);
builder.AddCsMetrics();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapHealthApi();
app.MapIngestApi();
app.MapQueryApi();
app.MapAlertsApi();
app.MapWebhooksApi();
app.MapBenchApi();
app.Run();

/// <summary>Entry point, visible to tests that host the node in process.</summary>
public partial class Program;
