using CsMetrics.Grains;
using CsMetrics.Scoring.Model;
using CsMetrics.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;

namespace CsMetrics.Grains.Tests;

/// <summary>One in-process Orleans cluster for the whole collection, on a fake clock.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    /// <summary>
    /// A long grace window, so tests can send weeks of history at one instant; a source counts as
    /// quiet after 48 hours, so tests can step the clock a day at a time.
    /// </summary>
    public static readonly ScoringModel Model = Models.With(m =>
    {
        m["ingest"]!["graceHours"] = 24 * 365;
        m["alerts"]!["goneSilent"]!["sourceQuietHours"] = 48;
    });

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero));

    public InProcessTestCluster Cluster { get; private set; } = null!;

    public StallingStorage Storage { get; } = new();

    public StallingInbox Inbox { get; } = new();

    public IGrainFactory Grains => Cluster.Client;

    public async ValueTask InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddMemoryGrainStorage("memory");
            silo.Services.AddKeyedSingleton(StorageNames.Default, (sp, _) => Storage.Wrap(sp.GetRequiredKeyedService<Orleans.Storage.IGrainStorage>("memory")));
            silo.Services.AddSingleton<TimeProvider>(Time);
            silo.Services.AddSingleton<IIncomingGrainCallFilter>(Inbox);
            silo.Services.AddSingleton(Model);
            silo.Services.AddCsMetricsGrains();
            // The fake clock only moves when a test moves it: no pause between portfolio rounds, and
            // the outbox's retries wait on the real clock (Orleans times calls out on the silo's
            // clock, so a test moving it a day fails a round in flight, which must not then wait
            // for the next move to retry).
            // Score-only moves wait half a second (real time), so the tests that follow a score also cross that path.
            // Silence-schedule saves are paced on the fake clock, which only moves when a test moves it.
            silo.Services.Configure<CsMetrics.Grains.Alerts.AlertOptions>(o => o.SilenceSaveInterval = TimeSpan.Zero);
            silo.Services.Configure<CsMetrics.Grains.Accounts.PortfolioOptions>(o => (o.FlushInterval, o.ScoreRefreshInterval) = (TimeSpan.Zero, TimeSpan.FromMilliseconds(500)));
            // The same for the alert outbox: a submission in flight when a test moves the clock 40 days
            // times out, and its retry must not wait for the next move (an entered_red notice once
            // stayed queued past a test's 5 s on a loaded machine).
            silo.Services.AddSingleton(sp => new CsMetrics.Grains.Alerts.AlertOutbox(
                sp.GetRequiredService<IGrainFactory>(), TimeProvider.System,
                sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<CsMetrics.Grains.Alerts.AlertOutbox>>()));
            silo.Services.AddSingleton(sp => new CsMetrics.Grains.Accounts.PortfolioOutbox(
                sp.GetRequiredService<IGrainFactory>(), TimeProvider.System,
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<CsMetrics.Grains.Accounts.PortfolioOptions>>(),
                sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<CsMetrics.Grains.Accounts.PortfolioOutbox>>()));
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async ValueTask DisposeAsync()
    {
        // Shutdown waits on the silo's clock; keep the fake one moving so it does not stall.
        using var stop = new CancellationTokenSource();
        var ticking = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                Time.Advance(TimeSpan.FromSeconds(1));
                await Task.Delay(10, CancellationToken.None);
            }
        }, CancellationToken.None);
        await Cluster.DisposeAsync();
        await stop.CancelAsync();
        await ticking;
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterTests : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
