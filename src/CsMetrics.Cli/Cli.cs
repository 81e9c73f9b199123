using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsMetrics.Simulator;

namespace CsMetrics.Cli;

/// <summary>
/// <c>csmetrics</c>: <c>send</c> NDJSON (a file or stdin) to a node in batches, retried and
/// resumable; <c>account</c> shows one account; <c>simulate</c> sends a seeded population's history
/// and days and writes the ground truth. Exit codes a script can rely on: see <see cref="ExitCodes"/>.
/// </summary>
public static class Cli
{
    public static Task<int> Main(string[] args) => RunAsync(args, Console.In, Console.Out, Console.Error);

    public static async Task<int> RunAsync(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        var url = new Option<string>("--url") { Description = "the node's base address", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CSMETRICS_URL") ?? "http://127.0.0.1:5000" };
        var key = new Option<string?>("--key") { Description = "an API key (default: $CSMETRICS_KEY)", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("CSMETRICS_KEY") };

        var file = new Argument<string>("file") { Description = "an NDJSON file of event envelopes, or - for stdin", DefaultValueFactory = _ => "-" };
        var batch = new Option<int>("--batch") { Description = "events per request (1 to 5000)", DefaultValueFactory = _ => 500 };
        var resume = new Option<string?>("--resume") { Description = "a file that records how many lines were sent; a rerun continues after them" };
        var send = new Command("send", "send or replay NDJSON events (batched, retried, resumable); prints accepted / duplicate / rejected") { file, batch, resume, url, key };
        send.SetAction((parse, ct) => SendAsync(parse.GetValue(url)!, parse.GetValue(key), parse.GetValue(file)!, parse.GetValue(batch), parse.GetValue(resume), stdin, stdout, stderr, ct));
        var replay = new Command("replay", "the same as send, for a file of events sent before (ids make it idempotent)") { file, batch, resume, url, key };
        replay.SetAction((parse, ct) => SendAsync(parse.GetValue(url)!, parse.GetValue(key), parse.GetValue(file)!, parse.GetValue(batch), parse.GetValue(resume), stdin, stdout, stderr, ct));

        var id = new Argument<string>("id") { Description = "the account id" };
        var account = new Command("account", "show one account's score, components and changes as JSON") { id, url, key };
        account.SetAction((parse, ct) => AccountAsync(parse.GetValue(url)!, parse.GetValue(key), parse.GetValue(id)!, stdout, stderr, ct));

        var accounts = new Option<int>("--accounts") { DefaultValueFactory = _ => 200 };
        var days = new Option<int>("--days") { DefaultValueFactory = _ => 30 };
        var seed = new Option<int>("--seed") { DefaultValueFactory = _ => 1 };
        var truth = new Option<string>("--truth") { Description = "where to write the ground truth (CSV)", DefaultValueFactory = _ => "simulation-truth.csv" };
        var rate = new Option<int>("--rate") { Description = "at most this many events per second (0: as fast as the node takes them)", DefaultValueFactory = _ => 0 };
        var live = new Option<bool>("--live") { Description = "play the days as the node's clock passes them (a node with CsMetrics:Clock:SpeedUp plays a day in seconds) instead of sending a past month at once" };
        var simulate = new Command("simulate", "send a seeded population's last month and then its days (20 % churning, 10 % expanding) and write the ground truth") { accounts, days, seed, truth, live, rate, url, key };
        simulate.SetAction((parse, ct) => SimulateAsync(parse.GetValue(url)!, parse.GetValue(key), parse.GetValue(accounts), parse.GetValue(days), parse.GetValue(seed), parse.GetValue(truth)!, parse.GetValue(live), parse.GetValue(rate), stdout, stderr, ct));

        var follow = new Option<bool>("--follow") { Description = "stay connected and print alert changes as they happen (resumes after a dropped connection)" };
        var count = new Option<int?>("--count") { Description = "with --follow: stop after this many" };
        var severity = new Option<string?>("--severity") { Description = "critical, warning, informational or opportunity" };
        var alerts = new Command("alerts", "list current alerts, or follow them live") { follow, count, severity, url, key };
        alerts.SetAction((parse, ct) => AlertsAsync(parse.GetValue(url)!, parse.GetValue(key), parse.GetValue(follow), parse.GetValue(count), parse.GetValue(severity), stdout, stderr, ct));

        var benchArgs = new Argument<string[]>("options") { Description = "passed to the benchmark: --accounts, --events, --distributions, --phases, --out ... (see the README)", Arity = ArgumentArity.ZeroOrMore };
        var bench = new Command("bench", "run the benchmark (from a CsMetrics checkout: it starts its own Azurite and nodes)") { benchArgs };
        bench.TreatUnmatchedTokensAsErrors = false;
        bench.SetAction((parse, ct) => BenchAsync([.. parse.GetValue(benchArgs) ?? [], .. parse.UnmatchedTokens], Directory.GetCurrentDirectory(), stderr, ct));

        var root = new RootCommand("csmetrics: send events to CsMetrics, look at accounts and alerts, simulate a population, benchmark") { send, replay, account, alerts, simulate, bench };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await stderr.WriteLineAsync(error.Message);
            }
            return ExitCodes.Usage;
        }
        return await parsed.InvokeAsync();
    }

    private static HttpClient Client(string url, string? key)
    {
        var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
        if (!string.IsNullOrEmpty(key))
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        return http;
    }

    private static async Task<int> SendAsync(string url, string? key, string file, int batchSize, string? resumeFile, TextReader stdin, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (batchSize is < 1 or > 5000)
        {
            await stderr.WriteLineAsync($"--batch: expected 1 to 5000, got {batchSize}");
            return ExitCodes.Usage;
        }
        if (file != "-" && !File.Exists(file))
        {
            await stderr.WriteLineAsync($"file: {file} does not exist");
            return ExitCodes.Usage;
        }
        var skip = resumeFile is not null && File.Exists(resumeFile) && long.TryParse(await File.ReadAllTextAsync(resumeFile, ct), out var done) ? done : 0;
        using var reader = file == "-" ? null : new StreamReader(file);
        var input = reader ?? stdin;
        using var http = Client(url, key);
        var totals = new Totals();
        long line = 0;
        var pending = new List<string>(batchSize);
        while (await input.ReadLineAsync(ct) is { } text)
        {
            line++;
            if (line <= skip || text.Trim().Length == 0)
            {
                continue;
            }
            pending.Add(text);
            if (pending.Count == batchSize)
            {
                if (await PostAsync(http, pending, totals, stderr, ct) is { } failure)
                {
                    return failure;
                }
                await Checkpoint(resumeFile, line, ct);
                await stderr.WriteAsync(ProgressLine(reader, totals));
            }
        }
        if (pending.Count > 0 && await PostAsync(http, pending, totals, stderr, ct) is { } last)
        {
            return last;
        }
        await Checkpoint(resumeFile, line, ct);
        await stderr.WriteLineAsync(ProgressLine(reader, totals));
        await stdout.WriteLineAsync($"{{\"sent\": {totals.Sent}, \"accepted\": {totals.Accepted}, \"duplicates\": {totals.Duplicates}, \"rejected\": {totals.Rejected}}}");
        foreach (var reason in totals.Reasons.Take(20))
        {
            await stderr.WriteLineAsync($"rejected: {reason}");
        }
        return totals.Rejected > 0 ? ExitCodes.SomeRejected : ExitCodes.Ok;
    }

    /// <summary>
    /// <c>[########------------]  40 %  sent 12,000: 11,990 accepted, 0 duplicate, 10 rejected</c>,
    /// rewritten in place (a carriage return first); the bar is how much of the file was read, and
    /// is left out for stdin, whose length is unknown.
    /// </summary>
    internal static string ProgressLine(StreamReader? file, Totals totals)
    {
        const int width = 24;
        var bar = "";
        if (file is { BaseStream: { CanSeek: true, Length: > 0 } stream })
        {
            var done = Math.Clamp((double)stream.Position / stream.Length, 0, 1);
            var filled = (int)Math.Round(done * width);
            bar = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"[{new string('#', filled)}{new string('-', width - filled)}] {done * 100,3:0} %  ");
        }
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"\r{bar}sent {totals.Sent:N0}: {totals.Accepted:N0} accepted, {totals.Duplicates:N0} duplicate, {totals.Rejected:N0} rejected");
    }

    internal sealed class Totals
    {
        public long Sent;
        public long Accepted;
        public long Duplicates;
        public long Rejected;
        public List<string> Reasons { get; } = [];
    }

    /// <summary>Posts one batch, retrying 429, 503 and network errors with backoff; null when it went through.</summary>
    private static async Task<int?> PostAsync(HttpClient http, List<string> lines, Totals totals, TextWriter stderr, CancellationToken ct)
    {
        var body = string.Join('\n', lines);
        var wait = TimeSpan.FromMilliseconds(500);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var content = new StringContent(body, Encoding.UTF8, "application/x-ndjson");
                using var response = await http.PostAsync(new Uri("/v1/events", UriKind.Relative), content, ct);
                var text = await response.Content.ReadAsStringAsync(ct);
                if (response.IsSuccessStatusCode)
                {
                    var answer = JsonNode.Parse(text)!;
                    totals.Sent += lines.Count;
                    totals.Accepted += (int)answer["accepted"]!;
                    totals.Duplicates += (int)answer["duplicates"]!;
                    foreach (var r in answer["rejected"]!.AsArray())
                    {
                        totals.Rejected++;
                        totals.Reasons.Add($"{r!["id"] ?? "(no id)"}: {r["reason"]}");
                    }
                    lines.Clear();
                    return null;
                }
                if (response.StatusCode is not (HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable) || attempt >= 8)
                {
                    await stderr.WriteLineAsync($"\nthe node refused the batch: {(int)response.StatusCode} {Detail(text)}");
                    return response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden ? ExitCodes.Refused : ExitCodes.Failed;
                }
                if (response.Headers.RetryAfter?.Delta is { } after)
                {
                    wait = after;
                }
            }
            catch (HttpRequestException e) when (attempt < 8)
            {
                await stderr.WriteLineAsync($"\n{e.Message}; retrying in {wait.TotalSeconds:0.#} s");
            }
            catch (HttpRequestException e)
            {
                await stderr.WriteLineAsync($"\ncannot reach {http.BaseAddress}: {e.Message}");
                return ExitCodes.Unreachable;
            }
            await Task.Delay(wait, ct);
            wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, TimeSpan.FromSeconds(30).Ticks));
        }
    }

    private static async Task Checkpoint(string? resumeFile, long line, CancellationToken ct)
    {
        if (resumeFile is not null)
        {
            await File.WriteAllTextAsync(resumeFile, line.ToString(System.Globalization.CultureInfo.InvariantCulture), ct);
        }
    }

    private static async Task<int> AccountAsync(string url, string? key, string id, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        using var http = Client(url, key);
        try
        {
            using var response = await http.GetAsync(new Uri($"/v1/accounts/{Uri.EscapeDataString(id)}", UriKind.Relative), ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                await stderr.WriteLineAsync($"account \"{id}\" has no events");
                return ExitCodes.NotFound;
            }
            if (!response.IsSuccessStatusCode)
            {
                await stderr.WriteLineAsync($"{(int)response.StatusCode} {Detail(text)}");
                return response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden ? ExitCodes.Refused : ExitCodes.Failed;
            }
            await stdout.WriteLineAsync(JsonNode.Parse(text)!.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return ExitCodes.Ok;
        }
        catch (HttpRequestException e)
        {
            await stderr.WriteLineAsync($"cannot reach {url}: {e.Message}");
            return ExitCodes.Unreachable;
        }
    }

    private static async Task<int> AlertsAsync(string url, string? key, bool follow, int? count, string? severity, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        using var http = Client(url, key);
        http.Timeout = Timeout.InfiniteTimeSpan;
        try
        {
            if (!follow)
            {
                using var list = await http.GetAsync(new Uri($"/v1/alerts{(severity is null ? "" : "?severity=" + Uri.EscapeDataString(severity))}", UriKind.Relative), ct);
                var text = await list.Content.ReadAsStringAsync(ct);
                if (!list.IsSuccessStatusCode)
                {
                    await stderr.WriteLineAsync($"{(int)list.StatusCode} {Detail(text)}");
                    return list.StatusCode is HttpStatusCode.BadRequest ? ExitCodes.Usage : ExitCodes.Failed;
                }
                foreach (var alert in JsonNode.Parse(text)!["alerts"]!.AsArray())
                {
                    await stdout.WriteLineAsync(alert!.ToJsonString());
                }
                return ExitCodes.Ok;
            }
            long? last = null;
            var printed = 0;
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/v1/alerts/stream", UriKind.Relative));
                    if (last is { } id)
                    {
                        request.Headers.Add("Last-Event-ID", id.ToString(System.Globalization.CultureInfo.InvariantCulture)); // resume: nothing missed
                    }
                    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
                    response.EnsureSuccessStatusCode();
                    using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
                    while (await reader.ReadLineAsync(ct) is { } line)
                    {
                        if (line.StartsWith("id: ", StringComparison.Ordinal))
                        {
                            last = long.Parse(line[4..], System.Globalization.CultureInfo.InvariantCulture);
                        }
                        else if (line.StartsWith("data: ", StringComparison.Ordinal))
                        {
                            var alert = JsonNode.Parse(line[6..])!;
                            if (severity is null || (string?)alert["severity"] == severity)
                            {
                                await stdout.WriteLineAsync(alert.ToJsonString());
                                await stdout.FlushAsync(ct);
                                if (++printed >= count)
                                {
                                    return ExitCodes.Ok;
                                }
                            }
                        }
                    }
                }
                catch (HttpRequestException e) when (!ct.IsCancellationRequested)
                {
                    if (last is null)
                    {
                        await stderr.WriteLineAsync($"cannot reach {url}: {e.Message}");
                        return ExitCodes.Unreachable;
                    }
                    await stderr.WriteLineAsync($"stream dropped ({e.Message}); reconnecting after change {last}");
                    await Task.Delay(TimeSpan.FromSeconds(2), ct);
                }
            }
            return ExitCodes.Ok;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return ExitCodes.Ok;
        }
        catch (HttpRequestException e)
        {
            await stderr.WriteLineAsync($"cannot reach {url}: {e.Message}");
            return ExitCodes.Unreachable;
        }
    }

    /// <summary>Runs tests/CsMetrics.Benchmarks of the checkout around <paramref name="directory"/>, passing the options on.</summary>
    internal static async Task<int> BenchAsync(string[] options, string directory, TextWriter stderr, CancellationToken ct)
    {
        var root = new DirectoryInfo(directory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "CsMetrics.sln")))
        {
            root = root.Parent;
        }
        if (root is null)
        {
            await stderr.WriteLineAsync("bench: run it inside a CsMetrics checkout (it builds and starts tests/CsMetrics.Benchmarks, which starts Azurite and the nodes it measures)");
            return ExitCodes.Usage;
        }
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", ["run", "-c", "Release", "--project", Path.Combine(root.FullName, "tests", "CsMetrics.Benchmarks"), "--", .. options])
        {
            WorkingDirectory = root.FullName,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        await process.WaitForExitAsync(ct);
        return process.ExitCode == 0 ? ExitCodes.Ok : ExitCodes.Failed;
    }

    /// <summary>
    /// Sends a seeded population: its history (the four weeks before the start), then day after
    /// day. At once, for a past month (the node needs a grace window that long), or <c>--live</c>:
    /// the month starts at the node's own time (<c>GET /healthz</c>) and each day is sent once the
    /// node's clock has passed it, so a node running time faster plays the month in minutes.
    /// </summary>
    private static async Task<int> SimulateAsync(string url, string? key, int accounts, int days, int seed, string truth, bool live, int rate, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (accounts < 1 || days is < 1 or > 365 || rate < 0)
        {
            await stderr.WriteLineAsync($"--accounts: expected at least 1, got {accounts}; --days: expected 1 to 365, got {days}; --rate: expected 0 or more events per second, got {rate}");
            return ExitCodes.Usage;
        }
        var clock = TimeProvider.System;
        var started = clock.GetTimestamp();
        var paceAt = TimeSpan.Zero;
        using var http = Client(url, key);
        DateTimeOffset start;
        if (live)
        {
            if (await NodeTimeAsync(http, stderr, ct) is not { } now)
            {
                return ExitCodes.Unreachable;
            }
            start = now;
        }
        else
        {
            start = new DateTimeOffset(TimeProvider.System.GetUtcNow().UtcDateTime.Date.AddDays(-days), TimeSpan.Zero);
        }
        var population = new Population(accounts, churnShare: 0.2, expandShare: 0.1, start, seed);
        await File.WriteAllTextAsync(truth, population.GroundTruthCsv(), ct);
        var totals = new Totals();
        async Task<int?> SendAll(List<Scoring.Events.HealthEvent> events)
        {
            foreach (var part in events.Chunk(rate is > 0 and < 2000 ? Math.Max(1, rate / 4) : 2000))
            {
                if (await PostAsync(http, [.. part.Select(Envelope)], totals, stderr, ct) is { } failure)
                {
                    return failure;
                }
                if (rate > 0)
                {
                    // Paced: each request may go once the previous ones' share of time has passed;
                    // time spent waiting for the node's clock is not saved up for a burst.
                    var now = clock.GetElapsedTime(started);
                    paceAt = (paceAt > now ? paceAt : now) + TimeSpan.FromSeconds((double)part.Length / rate);
                    if (paceAt - now > TimeSpan.Zero)
                    {
                        await Task.Delay(paceAt - now, clock, ct);
                    }
                }
            }
            return null;
        }
        // The history account by account (in time order within each), so an account's whole past
        // lands in one request and it is scored once on all of it, not flipped on a partial past.
        var history = population.History().OrderBy(e => e.Account, StringComparer.Ordinal).ThenBy(e => e.Timestamp).ToList();
        if (await SendAll(history) is { } historyFailure)
        {
            return historyFailure;
        }
        for (var day = 0; day < days; day++)
        {
            if (live)
            {
                // A day is sent once the node's clock is past its end (with an hour to spare), so no event is ahead of the node.
                var due = start.AddDays(day + 1).AddHours(1);
                var unanswered = 0;
                while (true)
                {
                    var now = await NodeTimeAsync(http, stderr, ct);
                    if (now is null && ++unanswered >= 30)
                    {
                        return ExitCodes.Unreachable; // about a minute without the node's time
                    }
                    if (now >= due)
                    {
                        break;
                    }
                    // Unknown time is not a due day: wait and ask again.
                    await Task.Delay(TimeSpan.FromMilliseconds(now is null ? 2000 : 200), ct);
                }
            }
            if (await SendAll(population.Day(day)) is { } failure)
            {
                return failure;
            }
            if (live)
            {
                await stderr.WriteLineAsync($"day {day + 1}/{days}: {totals.Accepted:N0} events accepted so far");
            }
        }
        await stdout.WriteLineAsync($"{{\"accounts\": {accounts}, \"days\": {days}, \"sent\": {totals.Sent}, \"accepted\": {totals.Accepted}, \"rejected\": {totals.Rejected}, \"truth\": \"{truth}\"}}");
        return totals.Rejected > 0 ? ExitCodes.SomeRejected : ExitCodes.Ok;
    }

    /// <summary>The node's clock, from <c>GET /healthz</c>; null (said on stderr) when the node does not answer.</summary>
    private static async Task<DateTimeOffset?> NodeTimeAsync(HttpClient http, TextWriter stderr, CancellationToken ct)
    {
        try
        {
            var health = JsonNode.Parse(await http.GetStringAsync(new Uri("/healthz", UriKind.Relative), ct));
            if (health?["now"] is { } now && DateTimeOffset.TryParse((string?)now, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var at))
            {
                return at;
            }
            await stderr.WriteLineAsync($"{http.BaseAddress}healthz: expected the node's time in \"now\"; is this a CsMetrics node?");
        }
        catch (Exception e) when (e is HttpRequestException or JsonException || e is TaskCanceledException && !ct.IsCancellationRequested)
        {
            await stderr.WriteLineAsync($"{http.BaseAddress}healthz: {e.Message}");
        }
        return null;
    }

    private static string Envelope(Scoring.Events.HealthEvent e)
    {
        var properties = new JsonObject();
        foreach (var (name, value) in e.Properties)
        {
            properties[name] = double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) && !value.Contains('-', StringComparison.Ordinal)
                ? JsonValue.Create(n)
                : JsonValue.Create(value);
        }
        return new JsonObject
        {
            ["id"] = e.Id, ["account"] = e.Account, ["type"] = e.Type, ["timestamp"] = e.Timestamp.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
            ["user"] = e.User, ["source"] = e.Source, ["properties"] = properties,
        }.ToJsonString();
    }

    private static string Detail(string problem)
    {
        try
        {
            return (string?)JsonNode.Parse(problem)?["detail"] ?? problem;
        }
        catch (JsonException)
        {
            return problem;
        }
    }
}

/// <summary>What the command's exit code means.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int SomeRejected = 1;
    public const int Usage = 2;
    public const int Unreachable = 3;
    public const int Refused = 4;
    public const int NotFound = 5;
    public const int Failed = 6;
}
