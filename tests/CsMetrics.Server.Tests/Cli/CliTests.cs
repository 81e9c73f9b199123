using System.Text.Json.Nodes;
using CsMetrics.Cli;
using CsMetrics.Testing;

namespace CsMetrics.Server.Tests.Cli;

/// <summary>The csmetrics command against a running node over real HTTP: what it sends, prints and exits with.</summary>
[Collection(ServerTests.Name)]
public class CliTests(ServerFixture server)
{
    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CsMetrics.Cli.Cli.RunAsync([.. args, "--url", server.Http.BaseAddress!.ToString()], new StringReader(""), stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Send_BatchesAFile_SaysWhatWasAcceptedAndRejected_AndAResumeSendsNothingTwice()
    {
        var account = Envelopes.NewAccount("cli");
        var lines = Enumerable.Range(0, 1200).Select(i => Envelopes.ToJson(Events.Login(Envelopes.Now.AddMinutes(-i), $"cli-{account}-{i}") with { Account = account }).ToJsonString()).ToList();
        lines[7] = lines[7].Replace("\"login\"", "\"no_such_type\"", StringComparison.Ordinal);
        lines[900] = "{\"id\": \"broken\"}";
        var file = Path.GetTempFileName();
        var resume = Path.GetTempFileName();
        File.Delete(resume);
        try
        {
            await File.WriteAllLinesAsync(file, lines, TestContext.Current.CancellationToken);
            var (code, output, errors) = await RunAsync("send", file, "--resume", resume);
            Assert.Equal(ExitCodes.SomeRejected, code);
            var totals = JsonNode.Parse(output)!;
            Assert.Equal((1200, 1198, 2), ((int)totals["sent"]!, (int)totals["accepted"]!, (int)totals["rejected"]!));
            Assert.Contains("rejected: broken:", errors, StringComparison.Ordinal);
            Assert.Equal("1200", await File.ReadAllTextAsync(resume, TestContext.Current.CancellationToken));

            var (again, againOutput, _) = await RunAsync("send", file, "--resume", resume);
            Assert.Equal(ExitCodes.Ok, again);
            Assert.Equal(0, (int)JsonNode.Parse(againOutput)!["sent"]!);

            var (replayed, replayOutput, _) = await RunAsync("replay", file, "--batch", "250");
            Assert.Equal(ExitCodes.SomeRejected, replayed);
            Assert.Equal((0, 1198), ((int)JsonNode.Parse(replayOutput)!["accepted"]!, (int)JsonNode.Parse(replayOutput)!["duplicates"]!));

            var (shown, view, _) = await RunAsync("account", account);
            Assert.Equal(ExitCodes.Ok, shown);
            Assert.Equal(1198, (int)JsonNode.Parse(view)!["eventCount"]!);
        }
        finally
        {
            File.Delete(file);
            File.Delete(resume);
        }
    }

    [Fact]
    public async Task ExitCodes_TellUsageErrors_UnknownAccounts_AndUnreachableNodes_Apart()
    {
        Assert.Equal(ExitCodes.Usage, (await RunAsync("send", "/no/such/file.ndjson")).Code);
        Assert.Equal(ExitCodes.Usage, (await RunAsync("send", "-", "--batch", "0")).Code);
        Assert.Equal(ExitCodes.Usage, (await RunAsync("frobnicate")).Code);
        Assert.Equal(ExitCodes.NotFound, (await RunAsync("account", $"nobody-{Guid.NewGuid():N}")).Code);
        var stderr = new StringWriter();
        var unreachable = await CsMetrics.Cli.Cli.RunAsync(["account", "x", "--url", $"http://127.0.0.1:{ServerFixture.FreePort()}"], new StringReader(""), new StringWriter(), stderr);
        Assert.Equal(ExitCodes.Unreachable, unreachable);
        Assert.Contains("cannot reach", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_OutsideACheckout_SaysWhereToRunIt()
    {
        var stderr = new StringWriter();
        var code = await CsMetrics.Cli.Cli.BenchAsync(["--accounts", "1000"], Path.GetTempPath(), stderr, TestContext.Current.CancellationToken);
        Assert.Equal(ExitCodes.Usage, code);
        Assert.StartsWith("bench: run it inside a CsMetrics checkout", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AlertsFollow_PrintsAnAlertAsItHappens()
    {
        var account = Envelopes.NewAccount("cli-follow");
        var stdout = new StringWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var following = CsMetrics.Cli.Cli.RunAsync(["alerts", "--follow", "--count", "1", "--severity", "critical", "--url", server.Http.BaseAddress!.ToString()],
            new StringReader(""), stdout, new StringWriter());
        await Task.Delay(500, TestContext.Current.CancellationToken); // connected
        await Envelopes.PostAsync(server.Http, Envelopes.Array(Events.HealthyMonth(Envelopes.Now.AddDays(-20)), account));
        await Envelopes.PostAsync(server.Http, Envelopes.Array(Events.ChurningAccount(Envelopes.Now), account));
        Assert.Equal(ExitCodes.Ok, await following.WaitAsync(stop.Token));
        var alert = JsonNode.Parse(stdout.ToString().Trim())!;
        Assert.Equal("critical", (string?)alert["severity"]);
    }

    [Fact]
    public async Task Simulate_SendsAPopulation_AndWritesTheGroundTruth()
    {
        var truth = Path.Combine(Path.GetTempPath(), $"truth-{Guid.NewGuid():N}.csv");
        try
        {
            var (code, output, errors) = await RunAsync("simulate", "--accounts", "20", "--days", "3", "--seed", "11", "--truth", truth);
            Assert.True(code == ExitCodes.Ok, errors);
            var totals = JsonNode.Parse(output)!;
            Assert.True((int)totals["accepted"]! > 500);
            var rows = await File.ReadAllLinesAsync(truth, TestContext.Current.CancellationToken);
            Assert.Equal(21, rows.Length);
            var first = rows[1].Split(',')[0];
            var (shown, view, _) = await RunAsync("account", first);
            Assert.Equal(ExitCodes.Ok, shown);
            Assert.NotNull(JsonNode.Parse(view)!["score"]);
        }
        finally
        {
            File.Delete(truth);
        }
    }

    [Fact]
    public async Task Simulate_AtAChosenRate_IsPacedToIt_AndABadRateIsAUsageError()
    {
        var truth = Path.Combine(Path.GetTempPath(), $"truth-{Guid.NewGuid():N}.csv");
        try
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var (code, output, errors) = await RunAsync("simulate", "--accounts", "3", "--days", "2", "--seed", "21", "--rate", "2000", "--truth", truth);
            var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            Assert.True(code == ExitCodes.Ok, errors);
            var sent = (int)JsonNode.Parse(output)!["sent"]!;
            Assert.True(sent > 2000, $"sent {sent}");
            // Never ahead of the rate: at least (sent - one request's worth) / rate seconds.
            Assert.True(elapsed.TotalSeconds >= (sent - 500) / 2000.0, $"{sent} events in {elapsed}");

            var (bad, _, badErrors) = await RunAsync("simulate", "--rate", "-5", "--truth", truth);
            Assert.Equal(ExitCodes.Usage, bad);
            Assert.Contains("--rate: expected 0 or more events per second, got -5", badErrors, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(truth);
        }
    }
}
