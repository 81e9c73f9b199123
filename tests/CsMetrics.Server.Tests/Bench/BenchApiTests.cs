using System.Net;
using CsMetrics.Server.Bench;

namespace CsMetrics.Server.Tests.Bench;

[Collection(ServerTests.Name)]
public class BenchApiTests(ServerFixture server)
{
    [Theory]
    [InlineData("GET", "/v1/bench/memory")]
    [InlineData("GET", "/v1/bench/gc")]
    [InlineData("POST", "/v1/bench/noscore")]
    [InlineData("POST", "/v1/bench/grain-calls")]
    public async Task BenchRoutes_AreNotMappedUnlessABenchmarkTurnsThemOn(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "POST" ? new StringContent("[]") : null };
        using var response = await server.Http.SendAsync(request, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public void Collector_CountsTheBytesAllocatedSinceTheLastReading()
    {
        var before = BenchApi.Collector().Value!;
        var kept = new byte[4 << 20];
        var after = BenchApi.Collector().Value!;
        GC.KeepAlive(kept);
        Assert.InRange(after.AllocatedBytes - before.AllocatedBytes, 4 << 20, long.MaxValue);
        Assert.True(after.Gen0 >= before.Gen0);
    }
}
