using System.Runtime.InteropServices;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace CsMetrics.Testing;

/// <summary>
/// A CsMetrics node as a real operating-system process (the built CsMetrics.Server.dll), for
/// tests and benchmarks that need <c>kill -9</c> or their own process.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringWriter _output = new();

    private NodeProcess(Process process, Uri address, int siloPort)
    {
        SiloPort = siloPort;
        _process = process;
        Address = address;
        Http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri Address { get; }

    /// <summary>The node's silo port, for a second node that joins it (CsMetrics:Node:PrimarySiloPort).</summary>
    public int SiloPort { get; }

    public HttpClient Http { get; }

    public int ProcessId => _process.Id;

    /// <summary>
    /// The node's output once it contains <paramref name="text"/>. The console logger writes from a
    /// queue of its own, so a line may appear a moment after the state it reports (say, readiness).
    /// </summary>
    public async Task<string> OutputContainingAsync(string text, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var started = Stopwatch.StartNew();
        while (!Output.Contains(text, StringComparison.Ordinal) && started.Elapsed < timeout)
        {
            await Task.Delay(50, cancellationToken);
        }
        return Output;
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static string ServerDirectory
    {
        get
        {
            // Same configuration as the running test assembly (Debug or Release).
            var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
            return Path.Combine(Azurite.RepositoryRoot, "src", "CsMetrics.Server", "bin", configuration, "net10.0");
        }
    }

    /// <summary>Starts a node with the given settings (as --key=value) on free ports and waits until it answers /healthz.</summary>
    /// <param name="environment">Variables for the node's process beyond this one's (the runtime's, such as <c>DOTNET_GCgen0size</c>).</param>
    public static async Task<NodeProcess> StartAsync(IReadOnlyDictionary<string, string> settings, bool waitReady = true,
        IReadOnlyDictionary<string, string>? environment = null, CancellationToken cancellationToken = default)
    {
        var node = Launch(settings, environment);
        await node.WaitAsync(waitReady ? "/readyz" : "/healthz", TimeSpan.FromSeconds(90), cancellationToken);
        return node;
    }

    /// <summary>Starts a node that is expected to stop by itself (a bad setting, say) and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunUntilExitAsync(IReadOnlyDictionary<string, string> settings, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        await using var node = Launch(settings, environment: null);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        await node._process.WaitForExitAsync(bounded.Token);
        return (node._process.ExitCode, node.Output);
    }

    private static NodeProcess Launch(IReadOnlyDictionary<string, string> settings, IReadOnlyDictionary<string, string>? environment)
    {
        var port = FreePort();
        var address = new Uri($"http://127.0.0.1:{port}");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = ServerDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }
        start.ArgumentList.Add(Path.Combine(ServerDirectory, "CsMetrics.Server.dll"));
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(address.ToString().TrimEnd('/'));
        var siloPort = FreePort();
        var all = new Dictionary<string, string>(settings)
        {
            ["CsMetrics:Node:SiloPort"] = siloPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["CsMetrics:Node:GatewayPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging:LogLevel:Default"] = settings.GetValueOrDefault("Logging:LogLevel:Default", "Warning"),
            ["Logging:LogLevel:CsMetrics"] = "Information",
        };
        foreach (var (key, value) in all)
        {
            start.ArgumentList.Add($"--{key}={value}");
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet did not start");
        var node = new NodeProcess(process, address, siloPort);
        process.OutputDataReceived += (_, e) => node.Append(e.Data);
        process.ErrorDataReceived += (_, e) => node.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.WriteLine(line);
            }
        }
    }

    public async Task WaitAsync(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The node exited with code {_process.ExitCode}:\n{Output}");
            }
            try
            {
                using var response = await Http.GetAsync(new Uri(path, UriKind.Relative), cancellationToken);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            await Task.Delay(100, cancellationToken);
        }
        throw new TimeoutException($"The node did not answer {path} within {timeout}:\n{Output}");
    }

    /// <summary>SIGTERM, as a service manager stops a node: a graceful stop. Returns the exit code.</summary>
    public async Task<int> StopAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (SendSignal(_process.Id, 15) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        await _process.WaitForExitAsync(bounded.Token);
        return _process.ExitCode;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    /// <summary>SIGKILL: no shutdown hook runs, nothing is flushed.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public TimeSpan TotalProcessorTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    public long WorkingSet
    {
        get
        {
            _process.Refresh();
            return _process.WorkingSet64;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> Given = new();

    /// <summary>
    /// A port free now and not handed out before in this process: the system can give the same free
    /// port twice in a row (a node once got it as both its silo and its gateway port).
    /// </summary>
    public static int FreePort()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (Given.TryAdd(port, true))
            {
                return port;
            }
        }
    }
}
