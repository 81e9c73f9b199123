using System.Diagnostics;
using System.Text.Json.Nodes;
using CsMetrics.Cli;
using CsMetrics.Testing;
using Microsoft.AspNetCore.Hosting;

namespace CsMetrics.Server.Tests.Cli;

/// <summary>A node whose clock runs a day per second (<c>CsMetrics:Clock:SpeedUp</c>), as the demo's does.</summary>
public sealed class FastClockServerFixture : ServerFixture
{
    public const double SpeedUp = 86_400;

    protected override void Configure(IWebHostBuilder builder) =>
        builder.UseSetting("CsMetrics:Clock:SpeedUp", SpeedUp.ToString(System.Globalization.CultureInfo.InvariantCulture));
}

/// <summary>
/// The real <c>csmetrics</c> binary (the built CsMetrics.Cli.dll, run by <c>dotnet</c> as a process
/// of its own) against a running node: its progress bar, exit codes, and a live simulation paced
/// by the node's fast clock.
/// </summary>
public class CliProcessTests(FastClockServerFixture server) : IClassFixture<FastClockServerFixture>
{
    private string Url => server.Http.BaseAddress!.ToString();

    private static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "CsMetrics.Cli.dll"));
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var errors = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        return (process.ExitCode, await output, await errors);
    }

    [Fact]
    public async Task Send_ShowsAProgressBarAndTheTotals_AndExitCodesTellWhatHappened()
    {
        var account = Envelopes.NewAccount("bin");
        var lines = Enumerable.Range(0, 1500).Select(i => Envelopes.ToJson(Events.Login(Envelopes.Now.AddMinutes(-i), $"{account}-{i}") with { Account = account }).ToJsonString()).ToList();
        lines[10] = "{\"id\": \"broken\", \"account\": \"x\"}";
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllLinesAsync(file, lines, TestContext.Current.CancellationToken);
            var (code, output, errors) = await RunAsync("send", file, "--batch", "500", "--url", Url);
            Assert.Equal(ExitCodes.SomeRejected, code);
            var totals = JsonNode.Parse(output)!;
            Assert.Equal((1500, 1499, 1), ((int)totals["sent"]!, (int)totals["accepted"]!, (int)totals["rejected"]!));
            Assert.Contains("\r[", errors, StringComparison.Ordinal);
            Assert.Contains("[########################] 100 %  sent 1,500: 1,499 accepted, 0 duplicate, 1 rejected", errors, StringComparison.Ordinal);
            Assert.Contains("rejected: broken:", errors, StringComparison.Ordinal);

            var (again, againOutput, _) = await RunAsync("replay", file, "--url", Url);
            Assert.Equal(ExitCodes.SomeRejected, again);
            Assert.Equal(1499, (int)JsonNode.Parse(againOutput)!["duplicates"]!);
        }
        finally
        {
            File.Delete(file);
        }

        Assert.Equal(ExitCodes.NotFound, (await RunAsync("account", "no-such-account", "--url", Url)).Code);
        Assert.Equal(ExitCodes.Usage, (await RunAsync("send", "/no/such/file.ndjson", "--url", Url)).Code);
        Assert.Equal(ExitCodes.Unreachable, (await RunAsync("account", "x", "--url", $"http://127.0.0.1:{ServerFixture.FreePort()}")).Code);
    }

    [Fact]
    public async Task SimulateLive_SendsEachDayOnceTheNodesClockHasPassedIt()
    {
        var truth = Path.Combine(Path.GetTempPath(), $"truth-{Guid.NewGuid():N}.csv");
        try
        {
            var started = Stopwatch.GetTimestamp();
            var (code, output, errors) = await RunAsync("simulate", "--live", "--accounts", "12", "--days", "3", "--seed", "4", "--truth", truth, "--url", Url);
            var elapsed = Stopwatch.GetElapsedTime(started);
            Assert.True(code == ExitCodes.Ok, errors);
            Assert.Contains("day 3/3", errors, StringComparison.Ordinal);
            Assert.Equal(0, (int)JsonNode.Parse(output)!["rejected"]!);
            // Three days at a day per second: the days waited for the node's clock (not sent at once).
            Assert.True(elapsed >= TimeSpan.FromSeconds(2.5), $"took {elapsed}");

            var ids = (await File.ReadAllLinesAsync(truth, TestContext.Current.CancellationToken)).Skip(1).Select(r => r.Split(',')[0]).ToList();
            Assert.Equal(12, ids.Count);
            var (_, view) = await Envelopes.GetAsync(server.Http, $"/v1/accounts/{ids[0]}");
            Assert.NotNull(view!["score"]);
            Assert.Equal(0, (long)view["lateEventCount"]!);
        }
        finally
        {
            File.Delete(truth);
        }
    }
}
