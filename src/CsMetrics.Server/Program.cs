using CsMetrics.Server.Access;
using CsMetrics.Server.Alerts;
using CsMetrics.Server.Catalog;
using CsMetrics.Server.Bench;
using CsMetrics.Server.Health;
using CsMetrics.Server.Hosting;
using CsMetrics.Server.Ingest;
using CsMetrics.Server.Query;
using CsMetrics.Server.Quarantine;
using CsMetrics.Server.Segment;

var builder = WebApplication.CreateBuilder(args);
builder.AddCsMetrics();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseDefaultFiles(); // the dashboard: wwwroot/index.html at /
app.UseStaticFiles();
app.UseRouting();
app.UseMiddleware<AccessMiddleware>();
app.UseRateLimiter(); // ingest admission: IngestAdmission
if (app.Services.GetRequiredService<ApiKeys>().Open)
{
    StartupLog.OpenAccess(app.Logger);
}
app.MapHealthApi();
app.MapIngestApi();
app.MapQueryApi();
app.MapPortfolioApi();
app.MapAlertsApi();
app.MapWebhooksApi();
app.MapQuarantineApi();
app.MapSegmentApi();
app.MapCatalogApi();
app.MapBenchApi();
app.Run();

/// <summary>Entry point, visible to tests that host the node in process.</summary>
public partial class Program;

internal static partial class StartupLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "No API keys are configured (CsMetrics:Access:Keys): every request is allowed. Configure keys before this node is reachable by anyone else.")]
    public static partial void OpenAccess(ILogger logger);
}
