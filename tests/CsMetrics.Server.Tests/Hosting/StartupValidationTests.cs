using CsMetrics.Server.Hosting;
using CsMetrics.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Options;

namespace CsMetrics.Server.Tests.Hosting;

/// <summary>A bad setting stops the node at start-up with a message that names it.</summary>
public class StartupValidationTests
{
    private sealed class Node(Dictionary<string, string> settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("CsMetrics:Node:SiloPort", ServerFixture.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
            builder.UseSetting("CsMetrics:Node:GatewayPort", ServerFixture.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        }
    }

    private static OptionsValidationException StartFails(Dictionary<string, string> settings)
    {
        using var node = new Node(settings);
        return Assert.ThrowsAny<OptionsValidationException>(() => node.CreateClient());
    }

    [Fact]
    public void BadScoringModel_NamesTheSetting()
    {
        var path = Models.WriteTemp(Models.Replay);
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"usage\": 35", "\"usage\": -35", StringComparison.Ordinal));
        try
        {
            var e = StartFails(new() { ["CsMetrics:Model:Path"] = path });
            Assert.Contains("weights.usage: expected a number from 0 to 1000, got -35", e.Message, StringComparison.Ordinal);
            Assert.Contains("CsMetrics:Model:Path", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void UnknownStorageProvider_NamesTheSetting()
    {
        var e = StartFails(new() { ["CsMetrics:Storage:Provider"] = "Floppy" });
        Assert.Contains("CsMetrics:Storage:Provider: expected one of", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadIngestLimit_NamesTheSetting()
    {
        var e = StartFails(new() { ["CsMetrics:Ingest:MaxEvents"] = "0" });
        Assert.Contains("CsMetrics:Ingest:MaxEvents: expected 1 to 100000, got 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadAdmissionBound_NamesTheSettings()
    {
        var e = StartFails(new() { ["CsMetrics:Ingest:MaxRequestsInFlight"] = "-1", ["CsMetrics:Ingest:MaxQueuedRequests"] = "-5" });
        Assert.Contains("CsMetrics:Ingest:MaxRequestsInFlight: expected 0 (no bound) to 100000, got -1", e.Message, StringComparison.Ordinal);
        Assert.Contains("CsMetrics:Ingest:MaxQueuedRequests: expected 0 to 100000, got -5", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadPortfolioIntervals_NameTheSettings()
    {
        var e = StartFails(new() { ["CsMetrics:Portfolio:FlushInterval"] = "-00:00:01", ["CsMetrics:Portfolio:ScoreRefreshInterval"] = "01:00:00" });
        Assert.Contains("CsMetrics:Portfolio:FlushInterval: expected 00:00:00 to 00:01:00, got -00:00:01", e.Message, StringComparison.Ordinal);
        Assert.Contains("CsMetrics:Portfolio:ScoreRefreshInterval: expected 00:00:00 to 00:10:00, got 01:00:00", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadApiKeys_NameTheSetting_AndNeverShowTheHash()
    {
        var e = StartFails(new()
        {
            ["CsMetrics:Access:Keys:0:Name"] = "backend",
            ["CsMetrics:Access:Keys:0:Hash"] = "plain-text-key-by-mistake",
            ["CsMetrics:Access:Keys:0:Scopes:0"] = "ingest",
            ["CsMetrics:Access:Keys:1:Name"] = "ops",
            ["CsMetrics:Access:Keys:1:Hash"] = "sha256:" + new string('a', 64),
            ["CsMetrics:Access:Keys:1:Scopes:0"] = "everything",
        });
        Assert.Contains("CsMetrics:Access:Keys:0:Hash: expected sha256: and 64 hex digits", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("plain-text-key-by-mistake", e.Message, StringComparison.Ordinal);
        Assert.Contains("CsMetrics:Access:Keys:1:Scopes: expected one or more of ingest, read, admin, got [everything]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadAlertAndWebhookSettings_NameTheSetting()
    {
        using var node = new Node(new()
        {
            ["CsMetrics:Storage:Provider"] = "Memory",
            ["CsMetrics:Alerts:ClockInterval"] = "00:00:00",
            ["CsMetrics:Webhooks:MaxAttempts"] = "0",
        });
        var e = Assert.ThrowsAny<Exception>(() => node.CreateClient());
        var messages = e is AggregateException a ? string.Join("\n", a.Flatten().InnerExceptions.Select(x => x.Message)) : e.Message;
        Assert.Contains("CsMetrics:Alerts:ClockInterval: expected 00:00:00.1 to 00:10:00, got 00:00:00", messages, StringComparison.Ordinal);
        Assert.Contains("CsMetrics:Webhooks:MaxAttempts: expected 1 to 100, got 0", messages, StringComparison.Ordinal);
    }

    [Fact]
    public void BadDurabilitySettings_NameTheSetting()
    {
        var e = StartFails(new()
        {
            ["CsMetrics:Storage:Provider"] = "Memory",
            ["CsMetrics:Durability:TruncateInterval"] = "00:00:00",
            ["CsMetrics:Durability:OrphanAfter"] = "00:00:05",
            ["CsMetrics:Durability:DrainTimeout"] = "-00:00:01",
            ["CsMetrics:Durability:ReplayWindowEvents"] = "0",
        });
        Assert.Contains("CsMetrics:Durability:TruncateInterval: expected 00:00:01 to 1.00:00:00, got 00:00:00", e.Message, StringComparison.Ordinal);
        Assert.Contains("CsMetrics:Durability:OrphanAfter: expected at least three heartbeat intervals (00:00:15), got 00:00:05", e.Message, StringComparison.Ordinal);
        Assert.Contains("CsMetrics:Durability:DrainTimeout: expected 00:00:00 (off) to 00:30:00, got -00:00:01", e.Message, StringComparison.Ordinal);
        Assert.Contains("CsMetrics:Durability:ReplayWindowEvents: expected 1 to 10000000, got 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EventLogStore_IsValidatedAtStart_AndABlobLogNeedsABlobEndpoint()
    {
        var e = StartFails(new()
        {
            ["CsMetrics:Storage:Provider"] = "Memory",
            ["CsMetrics:Durability:LogStore"] = "files",
            ["CsMetrics:Durability:LogContainerName"] = "Log_Container",
        });
        Assert.Contains("CsMetrics:Durability:LogStore: expected \"blob\" (append blobs) or \"table\" (table entities), got \"files\"", e.Message, StringComparison.Ordinal);
        Assert.Contains("CsMetrics:Durability:LogContainerName: expected 3 to 63 lowercase letters, digits and single hyphens", e.Message, StringComparison.Ordinal);

        // The storage settings are the other half of this check: the validator alone, with both
        // (a whole node with the AzureTable provider starts its silo's services around the failure).
        var tablesOnly = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;";
        var storage = new StorageOptions { Provider = StorageProviders.AzureTable };
        storage.AzureTable.ConnectionString = tablesOnly;
        var validator = new DurabilityOptionsValidator(Microsoft.Extensions.Options.Options.Create(storage));
        var result = validator.Validate(null, new CsMetrics.Server.Durability.DurabilityOptions());
        Assert.True(result.Failed);
        Assert.Contains("CsMetrics:Durability:LogStore: \"blob\" keeps the event log in blobs, and CsMetrics:Storage:AzureTable:ConnectionString names a TableEndpoint but no BlobEndpoint", result.FailureMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("a2V5", result.FailureMessage, StringComparison.Ordinal);

        storage.AzureTable.ConnectionString = tablesOnly + "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;";
        Assert.True(validator.Validate(null, new CsMetrics.Server.Durability.DurabilityOptions()).Succeeded);
        storage.AzureTable.ConnectionString = tablesOnly;
        Assert.True(validator.Validate(null, new CsMetrics.Server.Durability.DurabilityOptions { LogStore = "table" }).Succeeded);
    }

    /// <summary>
    /// As an operator meets it: the real process, with the AzureTable provider (its silo services
    /// start around the failure), exits with the configuration-error code and a line naming the
    /// setting, not an unhandled exception's abort.
    /// </summary>
    [Fact]
    public async Task ARealProcess_WithABadSetting_ExitsWithALineNamingIt()
    {
        var (code, output) = await NodeProcess.RunUntilExitAsync(new Dictionary<string, string>
        {
            ["CsMetrics:Storage:Provider"] = "AzureTable",
            ["CsMetrics:Storage:AzureTable:ConnectionString"] = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
        }, TimeSpan.FromSeconds(90), TestContext.Current.CancellationToken);
        Assert.True(code == 78, $"exit code {code}:\n{output}");
        Assert.Contains("CsMetrics did not start: invalid configuration: CsMetrics:Durability:LogStore: \"blob\" keeps the event log in blobs, and CsMetrics:Storage:AzureTable:ConnectionString names a TableEndpoint but no BlobEndpoint", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("a2V5", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Settings of three sections, refused together: one line names all of them (the durability
    /// section's too, although a service built before validation runs holds those options).
    /// </summary>
    [Fact]
    public async Task ARealProcess_WithBadSettingsInSeveralSections_NamesThemAllInOneLine()
    {
        var (code, output) = await NodeProcess.RunUntilExitAsync(new Dictionary<string, string>
        {
            ["CsMetrics:Storage:Provider"] = "Memory",
            ["CsMetrics:Ingest:MaxEvents"] = "0",
            ["CsMetrics:Portfolio:FlushInterval"] = "-00:00:01",
            ["CsMetrics:Durability:LogStore"] = "files",
        }, TimeSpan.FromSeconds(90), TestContext.Current.CancellationToken);
        Assert.True(code == 78, $"exit code {code}:\n{output}");
        var line = output.Split('\n').Single(l => l.StartsWith("CsMetrics did not start: invalid configuration: ", StringComparison.Ordinal));
        Assert.Contains("CsMetrics:Ingest:MaxEvents: expected 1 to 100000, got 0", line, StringComparison.Ordinal);
        Assert.Contains("CsMetrics:Portfolio:FlushInterval: expected 00:00:00 to 00:01:00, got -00:00:01", line, StringComparison.Ordinal);
        Assert.Contains("CsMetrics:Durability:LogStore: expected \"blob\" (append blobs) or \"table\" (table entities), got \"files\"", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }
}
