using System.Diagnostics;

namespace CsMetrics.Testing;

/// <summary>
/// A real Azurite for tests: the one named by CSMETRICS_AZURITE_CONNECTION (deploy/test.sh starts
/// one for the whole run), else one started here through deploy/azurite.sh and stopped afterwards.
/// </summary>
public sealed partial class Azurite
{
    public const string ConnectionVariable = "CSMETRICS_AZURITE_CONNECTION";

    private string? _ownDirectory;

    public string ConnectionString { get; private set; } = "";

    public static string RepositoryRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "CsMetrics.sln")))
            {
                dir = dir.Parent;
            }
            return dir?.FullName ?? throw new InvalidOperationException("CsMetrics.sln not found above " + AppContext.BaseDirectory);
        }
    }

    public async ValueTask InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable(ConnectionVariable) is { Length: > 0 } existing)
        {
            ConnectionString = existing;
            return;
        }
        await StartInOwnDirectoryAsync();
    }

    private async Task StartInOwnDirectoryAsync()
    {
        _ownDirectory = Path.Combine(Path.GetTempPath(), $"csmetrics-azurite-{Guid.NewGuid():N}");
        ConnectionString = (await Script("start", _ownDirectory)).Trim();
    }

    public async ValueTask DisposeAsync()
    {
        if (_ownDirectory is not null)
        {
            await Script("stop", _ownDirectory);
            try
            {
                Directory.Delete(_ownDirectory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: a temp folder left behind is harmless.
            }
        }
    }

    /// <summary>An Azurite of the caller's own, never the shared one, so a test can stop it and start it again.</summary>
    public static async Task<Azurite> StartOwnAsync()
    {
        var azurite = new Azurite();
        await azurite.StartInOwnDirectoryAsync();
        return azurite;
    }

    /// <summary>Stops an Azurite started here; its data stays in its folder.</summary>
    public Task StopAsync() => Script("stop", Own);

    /// <summary>Starts a stopped Azurite again on the same port with the same data.</summary>
    public async Task StartAgainAsync()
    {
        var port = (await File.ReadAllTextAsync(Path.Combine(Own, "azurite.port"))).Trim();
        var blobPort = (await File.ReadAllTextAsync(Path.Combine(Own, "azurite-blob.port"))).Trim();
        await Script("start", Own, port, blobPort);
    }

    private string Own => _ownDirectory ?? throw new InvalidOperationException("This Azurite was not started here");

    /// <summary>
    /// CPU time the Azurite started here (its table and blob services) has used so far (null for a
    /// shared one, named by CSMETRICS_AZURITE_CONNECTION): it runs on the same cores as the node it serves.
    /// </summary>
    public TimeSpan? ProcessorTime => _ownDirectory is null ? null : ProcessorTimeOf("azurite.pid") + ProcessorTimeOf("azurite-blob.pid");

    /// <summary>CPU time of the Azurite blob service alone (null for a shared one), which holds the event log.</summary>
    public TimeSpan? BlobProcessorTime => _ownDirectory is null ? null : ProcessorTimeOf("azurite-blob.pid");

    private TimeSpan? ProcessorTimeOf(string pidFile)
    {
        var path = Path.Combine(Own, pidFile);
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            using var process = Process.GetProcessById(int.Parse(File.ReadAllText(path).Trim(), System.Globalization.CultureInfo.InvariantCulture));
            return process.TotalProcessorTime;
        }
        catch (ArgumentException)
        {
            return null; // it has exited
        }
    }

    /// <summary>
    /// Size of the database file the Azurite started here rewrites whole every 5 s (null for a
    /// shared one, 0 before its first save). Azurite 3.37.0 exits with a fatal V8 error in that
    /// save (JSON.stringify) once the file nears 450-500 MB.
    /// </summary>
    public long? DatabaseBytes =>
        _ownDirectory is null ? null
        : new FileInfo(Path.Combine(_ownDirectory, "__azurite_db_table__.json")) is { Exists: true } file ? file.Length : 0;

    /// <summary>A connection string whose endpoint nothing listens on, for failure tests.</summary>
    public static string Unreachable(int port) =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;";

    private static async Task<string> Script(string verb, string directory, params string[] ports)
    {
        var start = new ProcessStartInfo("bash", [Path.Combine(RepositoryRoot, "deploy", "azurite.sh"), verb, directory, .. ports])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"deploy/azurite.sh {verb} failed ({process.ExitCode}): {await error}");
        }
        return await output;
    }
}
