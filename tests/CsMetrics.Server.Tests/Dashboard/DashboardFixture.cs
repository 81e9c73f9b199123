using System.Net;
using System.Text.Json.Nodes;
using CsMetrics.Simulator;
using CsMetrics.Testing;
using Microsoft.Playwright;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Dashboard;

/// <summary>
/// A node of its own loaded with a simulated month of a known population (so some accounts are
/// red and have critical alerts), and a real headless Chromium (Debian's <c>chromium</c>, which
/// the test command installs; <c>CSMETRICS_CHROMIUM</c> names another) driven by Playwright.
/// Screenshots go to <c>artifacts/screenshots/</c>.
/// </summary>
public sealed class DashboardFixture : ServerFixture
{
    public const int Accounts = 40;

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>
    /// Accounts a test created beyond the population (the live-feed test's), counted so the
    /// others, in whatever order xunit runs them, know how many the portfolio should hold.
    /// </summary>
    public int AddedAccounts { get; set; }

    /// <summary>How many accounts the portfolio should hold now.</summary>
    public int PortfolioAccounts => Accounts + AddedAccounts;

    public Population Population { get; } = new(Accounts, churnShare: 0.25, expandShare: 0.1, new DateTimeOffset(Now.UtcDateTime.Date.AddDays(-30), TimeSpan.Zero), seed: 5);

    public string BaseAddress => Http.BaseAddress!.ToString().TrimEnd('/');

    public static string Screenshots { get; } = Path.Combine(Azurite.RepositoryRoot, "artifacts", "screenshots");

    public override async ValueTask InitializeAsync()
    {
        await base.InitializeAsync();
        var events = Population.History().Concat(Enumerable.Range(0, 30).SelectMany(Population.Day));
        foreach (var chunk in events.Chunk(2000))
        {
            var (response, _) = await PostAsync(Http, new JsonArray([.. chunk.Select(ToJson)]).ToJsonString());
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"loading the simulated population: {response.StatusCode}");
            }
        }
        var chromium = Environment.GetEnvironmentVariable("CSMETRICS_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";
        if (!File.Exists(chromium))
        {
            throw new InvalidOperationException($"no Chromium at {chromium}: the test command (deploy/test.sh) installs Debian's chromium package; or set CSMETRICS_CHROMIUM");
        }
        Directory.CreateDirectory(Screenshots);
        // Expectations wait as long as page actions do (Playwright's default is 5 s): a CI machine
        // busy with other builds may take that long to paint a page or deliver a live alert.
        Assertions.SetDefaultExpectTimeout(15_000);
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            // No sandbox as root in CI; no background traffic on a machine without internet.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>A fresh page that fails the test on any script error.</summary>
    public async Task<IPage> NewPageAsync(List<string> errors)
    {
        var page = await Browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = BaseAddress, ViewportSize = new ViewportSize { Width = 1400, Height = 1000 } });
        page.PageError += (_, error) => errors.Add(error);
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                errors.Add(message.Text);
            }
        };
        page.SetDefaultTimeout(15_000);
        return page;
    }

    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, name + ".png"), FullPage = true });

    public override async ValueTask DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }
        _playwright?.Dispose();
        await base.DisposeAsync();
    }
}
