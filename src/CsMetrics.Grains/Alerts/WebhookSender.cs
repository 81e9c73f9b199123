using System.Diagnostics;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;

namespace CsMetrics.Grains.Alerts;

/// <summary>
/// Posts webhook bodies. The body is signed with HMAC-SHA256 under the endpoint's secret, sent as
/// <c>X-CsMetrics-Signature: sha256=&lt;lowercase hex&gt;</c> over the exact bytes of the body;
/// <c>X-CsMetrics-Delivery</c> names the delivery (the same on every retry, so a receiver can drop
/// a repeat) and <c>X-CsMetrics-Attempt</c> counts attempts from 1.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    public const string SignatureHeader = "X-CsMetrics-Signature";
    public const string DeliveryHeader = "X-CsMetrics-Delivery";
    public const string AttemptHeader = "X-CsMetrics-Attempt";

    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    public static string Sign(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary>One attempt: the status code, or the error that prevented one, and how long it took.</summary>
    public async Task<(int? Status, string? Error, double Milliseconds)> PostAsync(
        string url, string secret, byte[] body, string deliveryId, int attempt, TimeSpan timeout)
    {
        var started = Stopwatch.GetTimestamp();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(SignatureHeader, Sign(secret, body));
        request.Headers.Add(DeliveryHeader, deliveryId);
        request.Headers.Add(AttemptHeader, attempt.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("CsMetrics-Webhooks", "1"));
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            return ((int)response.StatusCode, response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}",
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (OperationCanceledException)
        {
            return (null, $"no answer within {timeout.TotalSeconds:0.#} s", Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (HttpRequestException e)
        {
            return (null, e.HttpRequestError == HttpRequestError.Unknown ? e.Message : $"{e.HttpRequestError}: {e.Message}",
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    public void Dispose() => _http.Dispose();
}
