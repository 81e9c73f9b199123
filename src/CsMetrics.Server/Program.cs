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
using Microsoft.Extensions.Options;

var builder = WebApplication.CreateBuilder(args);
builder.AddCsMetrics();

try
{
    return Run(builder.Build());
}
catch (Exception e) when (System.Reflection.Assembly.GetEntryAssembly() == typeof(Program).Assembly && StartupLog.InvalidSettings(e) is { } settings)
{
    // A bad setting is an operator's error, not a crash: one line naming each setting and what it
    // expects, and the exit code of a configuration error (EX_CONFIG), instead of an unhandled
    // exception's abort and stack trace. (A test host that runs this program in its own process
    // gets the exception itself.)
    Console.Error.WriteLine($"CsMetrics did not start: invalid configuration: {settings}");
    return StartupLog.InvalidConfiguration;
}

static int Run(WebApplication app)
{
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
    return 0;
}

/// <summary>Entry point, visible to tests that host the node in process.</summary>
public partial class Program;

internal static partial class StartupLog
{
    /// <summary>The process's exit code when a setting is invalid (EX_CONFIG in sysexits.h).</summary>
    public const int InvalidConfiguration = 78;

    /// <summary>
    /// What start-up validation refused, as one line; null when <paramref name="e"/> is not (only) that.
    /// Several sections failing at once arrive together as an <see cref="AggregateException"/>.
    /// </summary>
    public static string? InvalidSettings(Exception e) => e switch
    {
        OptionsValidationException invalid => invalid.Message,
        AggregateException all when all.Flatten().InnerExceptions is { Count: > 0 } inner && inner.All(x => x is OptionsValidationException) =>
            string.Join("; ", inner.Select(x => x.Message)),
        _ => null,
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "No API keys are configured (CsMetrics:Access:Keys): every request is allowed. Configure keys before this node is reachable by anyone else.")]
    public static partial void OpenAccess(ILogger logger);
}
