using System.Net;

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
}
