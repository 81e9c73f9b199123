using System.Net;
using System.Net.Http.Headers;
using System.Text;
using CsMetrics.Server.Ingest;
using CsMetrics.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using static CsMetrics.Server.Tests.Envelopes;

namespace CsMetrics.Server.Tests.Ingest;

/// <summary>A node that works on one ingest request at a time and queues none.</summary>
public sealed class OneAtATimeServerFixture : ServerFixture
{
    protected override void Configure(IWebHostBuilder builder)
    {
        builder.UseSetting("CsMetrics:Ingest:MaxRequestsInFlight", "1");
        builder.UseSetting("CsMetrics:Ingest:MaxQueuedRequests", "0");
    }
}

/// <summary>
/// Admission control over real HTTP: a request past the node's bound is refused 503 with
/// <c>Retry-After</c> before its body is read, nothing in it is counted, and the same body sent
/// again once there is room is accepted exactly once.
/// </summary>
public class AdmissionTests(OneAtATimeServerFixture node) : IClassFixture<OneAtATimeServerFixture>
{
    /// <summary>A body sent in two halves, the second only when the test releases it: the request stays in flight.</summary>
    private sealed class HeldContent(byte[] body) : HttpContent
    {
        public TaskCompletionSource FirstHalfSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(body.AsMemory(0, body.Length / 2));
            await stream.FlushAsync();
            FirstHalfSent.TrySetResult();
            await Release.Task;
            await stream.WriteAsync(body.AsMemory(body.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }

    [Fact]
    public async Task RequestPastTheBound_Is503WithRetryAfter_AndNothingInItCounts_UntilSentAgain()
    {
        var ct = TestContext.Current.CancellationToken;
        var held = NewAccount("held");
        var probe = NewAccount("probe");
        var refusals = node.Services.GetRequiredService<IngestRefusals>();
        var refusalsBefore = refusals.Total;

        // A client of its own: the factory's client buffers request bodies (to follow redirects).
        using var direct = new HttpClient { BaseAddress = node.Http.BaseAddress };
        HeldContent content;
        Task<HttpResponseMessage> heldPost;

        // Probe until one is refused: those answered 200 before the held request was admitted are counted.
        var admitted = 0;
        string? refusedBody = null;
        HttpResponseMessage? refused = null;
        // The held request reaches the limiter once the node has read its headers, which on a loaded
        // machine (the whole suite on two cores) has taken longer than 200 probes; and if a probe holds
        // the one permit at that moment, the held request is the one refused. Then it is sent again.
        var probing = System.Diagnostics.Stopwatch.StartNew();
        var i = 0;
        while (true)
        {
            var refusedBeforeAttempt = refusals.Total;
            content = new HeldContent(Encoding.UTF8.GetBytes(Array([Events.Login(Now, id: $"{held}-1")], held)));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            heldPost = direct.PostAsync(new Uri("/v1/events", UriKind.Relative), content, ct);
            await content.FirstHalfSent.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
            while (refused is null && refusals.Total == refusedBeforeAttempt)
            {
                Assert.False(heldPost.IsCompleted, "the held request finished before any probe was refused");
                Assert.True(probing.Elapsed < TimeSpan.FromSeconds(60), "no probe was refused while a request was held in flight");
                var body = Array([Events.Login(Now, id: $"{probe}-{i++}")], probe);
                var (response, _) = await PostAsync(node.Http, body);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    admitted++;
                    await Task.Delay(20, ct);
                }
                else
                {
                    (refused, refusedBody) = (response, body);
                }
            }
            if (refused is not null)
            {
                break;
            }
            // A refusal that was no probe's: the held request's. It was answered before its body was read.
            content.Release.TrySetResult();
            using var refusedHeld = await heldPost.WaitAsync(TimeSpan.FromSeconds(30), ct);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refusedHeld.StatusCode);
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
        var problem = await refused.Content.ReadAsStringAsync(ct);
        Assert.Contains("CsMetrics:Ingest:MaxRequestsInFlight", problem, StringComparison.Ordinal);
        Assert.Contains("nothing in this body was accepted", problem, StringComparison.Ordinal);

        // The Segment routes share the bound.
        using var track = new StringContent(new System.Text.Json.Nodes.JsonObject
        {
            ["type"] = "track", ["messageId"] = $"m-{Guid.NewGuid():N}", ["userId"] = "u1", ["event"] = "feature_used",
            ["properties"] = new System.Text.Json.Nodes.JsonObject { ["account"] = probe },
        }.ToJsonString(), Encoding.UTF8, "application/json");
        using var segment = await node.Http.PostAsync(new Uri("/v1/track", UriKind.Relative), track, ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, segment.StatusCode);

        // Reads are not ingest: they go through while ingest is full.
        var (read, view) = await GetAsync(node.Http, $"/v1/accounts/{probe}");
        Assert.Equal(admitted == 0 ? HttpStatusCode.NotFound : HttpStatusCode.OK, read.StatusCode);

        content.Release.TrySetResult();
        using var heldResponse = await heldPost.WaitAsync(TimeSpan.FromSeconds(30), ct);
        Assert.Equal(HttpStatusCode.OK, heldResponse.StatusCode);
        Assert.Contains("\"accepted\":1", await heldResponse.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.True(refusals.Total >= refusalsBefore + 2);

        if (admitted > 0)
        {
            Assert.Equal(admitted, (int)view!["eventCount"]!);
        }
        var (again, answer) = await PostAsync(node.Http, refusedBody!);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(1, (int)answer!["accepted"]!);
        Assert.Equal(0, (int)answer["duplicates"]!);
        var (_, after) = await GetAsync(node.Http, $"/v1/accounts/{probe}");
        Assert.Equal(admitted + 1, (int)after!["eventCount"]!);
    }
}
