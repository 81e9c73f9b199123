using System.Net;
using System.Net.Sockets;
using CsMetrics.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace CsMetrics.Server.Tests;

/// <summary>
/// A whole CsMetrics node (silo + API) listening on a real loopback port, shared by a test
/// collection. Its model has a long grace window so tests can send weeks of history at once.
/// </summary>
public class ServerFixture : WebApplicationFactory<Program>, IAsyncLifetime
{
    private readonly string _modelPath = Models.WriteTemp(Models.Replay);

    public HttpClient Http { get; private set; } = null!;

    public virtual async ValueTask InitializeAsync()
    {
        UseKestrel(0);
        StartServer();
        Http = CreateClient();
        // As a load balancer would: send nothing before /readyz says so.
        var waiting = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            using var ready = await Http.GetAsync(new Uri("/readyz", UriKind.Relative));
            if (ready.IsSuccessStatusCode)
            {
                return;
            }
            if (waiting.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new InvalidOperationException($"the node was not ready within 60 s: {await ready.Content.ReadAsStringAsync()}");
            }
            await Task.Delay(50);
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("CsMetrics:Node:SiloPort", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("CsMetrics:Node:GatewayPort", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("CsMetrics:Node:ClusterId", $"test-{Guid.NewGuid():N}");
        builder.UseSetting("CsMetrics:Storage:Provider", "Memory");
        builder.UseSetting("CsMetrics:Model:Path", _modelPath);
        Configure(builder);
    }

    /// <summary>More settings, for a node of a different kind (API keys, say).</summary>
    protected virtual void Configure(IWebHostBuilder builder)
    {
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(_modelPath);
        GC.SuppressFinalize(this);
    }

    public static int FreePort() => CsMetrics.Testing.NodeProcess.FreePort();
}

[CollectionDefinition(Name)]
public sealed class ServerTests : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}
