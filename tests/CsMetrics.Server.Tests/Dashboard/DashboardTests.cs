using System.Text.Json.Nodes;
using CsMetrics.Simulator;
using CsMetrics.Testing;
using Microsoft.Playwright;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Dashboard;

/// <summary>
/// The dashboard in a real headless Chromium against a running node with a simulated month: each
/// page loads what the API says, the table sorts, filters, searches and pages, an alert is
/// acknowledged, assigned and resolved from the account page, and a live alert arrives in the feed.
/// </summary>
public class DashboardTests(DashboardFixture node) : IClassFixture<DashboardFixture>
{
    private readonly List<string> _errors = [];

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    /// <summary>
    /// Waits until the index holds every account (the population and any a test added) and has
    /// stopped changing (two reads a full outbox round apart agree on every band), so pages show
    /// the numbers the test compares them with.
    /// </summary>
    private async Task<JsonNode> PortfolioAsync()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var reads = new List<string>();
        string? previous = null;
        for (var i = 0; i < 120; i++)
        {
            var (_, portfolio) = await GetAsync(node.Http, "/v1/portfolio");
            var bands = portfolio!["bands"]!.ToJsonString();
            reads.Add($"{started.Elapsed.TotalSeconds:0.0}s accounts={portfolio["accounts"]} {bands}");
            if ((int)portfolio["accounts"]! == node.PortfolioAccounts && bands == previous)
            {
                TestContext.Current.TestOutputHelper?.WriteLine($"the portfolio index settled after {started.Elapsed.TotalSeconds:0.0} s");
                return portfolio;
            }
            previous = bands;
            await Task.Delay(300, Cancel);
        }
        throw new TimeoutException($"the portfolio index did not settle on {node.PortfolioAccounts} accounts within 36 s; first and last reads:\n{string.Join('\n', reads.Take(3).Concat(reads.TakeLast(5)))}");
    }

    [Fact]
    public async Task Portfolio_ShowsTheBandsAndAtRiskMrr_AndLinksToTheRedAccounts()
    {
        var portfolio = await PortfolioAsync();
        var page = await node.NewPageAsync(_errors);
        await page.GotoAsync("/");
        await Assertions.Expect(page.Locator("#total-accounts")).ToHaveTextAsync(((int)portfolio["accounts"]!).ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var band in new[] { "green", "yellow", "red" })
        {
            await Assertions.Expect(page.Locator($"tr[data-band-row={band}] [data-count]")).ToHaveTextAsync(((int)portfolio["bands"]![band]!["accounts"]!).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        await Assertions.Expect(page.Locator("#at-risk-mrr")).ToContainTextAsync(((double)portfolio["atRiskMrr"]!).ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
        await Assertions.Expect(page.Locator("table[data-movements=day]")).ToContainTextAsync("no score");
        await DashboardFixture.ScreenshotAsync(page, "portfolio");

        await page.Locator("tr[data-band-row=red] a").ClickAsync();
        await Assertions.Expect(page.Locator("#match-count")).ToHaveTextAsync($"{(int)portfolio["bands"]!["red"]!["accounts"]!} matching");
        var bands = await page.Locator("#accounts tbody [data-band]").EvaluateAllAsync<string[]>("els => els.map(e => e.dataset.band)");
        Assert.NotEmpty(bands);
        Assert.All(bands, b => Assert.Equal("red", b));
        Assert.Empty(_errors);
    }

    [Fact]
    public async Task AtRiskTable_SortsFiltersSearchesAndPages()
    {
        await PortfolioAsync();
        var page = await node.NewPageAsync(_errors);
        await page.GotoAsync("/#/accounts?limit=10");
        await Assertions.Expect(page.Locator("#match-count")).ToHaveTextAsync($"{node.PortfolioAccounts} matching");

        async Task<double[]> Scores() => (await page.Locator("#accounts tbody [data-score]").AllTextContentsAsync()).Select(double.Parse).ToArray();
        var ascending = await Scores();
        Assert.Equal(10, ascending.Length);
        Assert.Equal(ascending.Order(), ascending);

        await page.Locator("th[data-sort=score]").ClickAsync(); // lowest first -> highest first
        await Assertions.Expect(page.Locator("th[data-sort=score]")).ToContainTextAsync("▼");
        var descending = await Scores();
        Assert.Equal(descending.OrderDescending(), descending);
        Assert.True(descending[0] >= ascending[^1]);

        // Next page continues where the first ended; first page comes back.
        await page.Locator("#next-page").ClickAsync();
        await Assertions.Expect(page.Locator("#first-page")).ToBeEnabledAsync();
        var second = await Scores();
        Assert.True(second[0] <= descending[^1]);
        await page.Locator("#first-page").ClickAsync();
        await Assertions.Expect(page.Locator("#first-page")).ToBeDisabledAsync();

        // Filter by segment, then search by name.
        var enterprise = node.Population.Accounts.Where(a => a.Segment == "enterprise").ToList();
        await page.Locator("#filters input[name=segment]").FillAsync("enterprise");
        await page.Locator("#filters button").ClickAsync();
        await Assertions.Expect(page.Locator("#match-count")).ToHaveTextAsync($"{enterprise.Count} matching");
        var one = node.Population.Accounts[3];
        await page.Locator("#filters input[name=segment]").FillAsync("");
        await page.Locator("#filters input[name=q]").FillAsync($"customer {one.Id[^5..]}");
        await page.Locator("#filters button").ClickAsync();
        await Assertions.Expect(page.Locator("#match-count")).ToHaveTextAsync("1 matching");
        await Assertions.Expect(page.Locator("#accounts tbody tr")).ToHaveAttributeAsync("data-account", one.Id);
        await DashboardFixture.ScreenshotAsync(page, "at-risk-table");
        Assert.Empty(_errors);
    }

    [Fact]
    public async Task AccountPage_ExplainsTheScore_AndActsOnItsAlert()
    {
        await PortfolioAsync();
        var churner = node.Population.Accounts.First(a => a.Trajectory == Trajectory.Churning);
        var (_, account) = await GetAsync(node.Http, $"/v1/accounts/{churner.Id}");
        var alert = account!["openAlerts"]!.AsArray().First(a => (string?)a!["state"] == "open")!;
        var alertId = (string)alert["id"]!;

        var page = await node.NewPageAsync(_errors);
        await page.GotoAsync("/#/accounts?band=red&limit=100");
        await page.Locator($"#accounts a[href='#/account/{churner.Id}']").ClickAsync();
        await Assertions.Expect(page.Locator("#score")).ToHaveTextAsync(((double)account["score"]!).ToString("0.#", System.Globalization.CultureInfo.InvariantCulture));
        foreach (var component in new[] { "usage", "support", "sentiment", "outcomes", "billing" })
        {
            await Assertions.Expect(page.Locator($"[data-component={component}]")).ToBeVisibleAsync();
        }
        await Assertions.Expect(page.Locator("svg.trend polyline")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#changes tbody tr").First).ToContainTextAsync("->");
        await Assertions.Expect(page.Locator("#band-changes tbody tr").First).ToBeVisibleAsync();
        await DashboardFixture.ScreenshotAsync(page, "account");

        var row = page.Locator($"tr[data-alert='{alertId}']");
        await row.Locator("button[data-action=ack]").ClickAsync();
        await Assertions.Expect(row.Locator("[data-state]")).ToHaveTextAsync("acknowledged");

        page.Dialog += async (_, dialog) => await dialog.AcceptAsync("renewals-team");
        await row.Locator("button[data-action=assign]").ClickAsync();
        await Assertions.Expect(row).ToContainTextAsync("renewals-team");

        await row.Locator("button[data-action=resolve]").ClickAsync();
        await Assertions.Expect(row).ToHaveCountAsync(0);
        var (_, alerts) = await GetAsync(node.Http, $"/v1/alerts?account={churner.Id}&state=resolved");
        var resolved = alerts!["alerts"]!.AsArray().Single(a => (string?)a!["id"] == alertId)!;
        Assert.Equal("renewals-team", (string?)resolved["owner"]);
        Assert.Empty(_errors);
    }

    [Fact]
    public async Task LiveFeed_ShowsAnAlertTheMomentItIsRaised()
    {
        var page = await node.NewPageAsync(_errors);
        await page.GotoAsync("/");
        await Assertions.Expect(page.Locator("#feed-state")).ToHaveTextAsync("live");

        var account = NewAccount("live");
        node.AddedAccounts++; // the other tests expect it in the portfolio when they run after this one
        await PostAsync(node.Http, Array(Events.ChurningAccount(Now), account));
        var item = page.Locator($"#feed li:has(a[href='#/account/{account}'])").First;
        await Assertions.Expect(item).ToBeVisibleAsync();
        await Assertions.Expect(item).ToContainTextAsync("raised");
        await DashboardFixture.ScreenshotAsync(page, "live-alert");

        await item.Locator("a").ClickAsync();
        await Assertions.Expect(page.Locator("h1")).ToContainTextAsync(account);
        Assert.Empty(_errors);
    }
}
