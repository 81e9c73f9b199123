using System.Net.Http.Headers;
using System.Text;
using System.Threading.Channels;

namespace CsMetrics.Server.Tests.Alerts;

/// <summary>A minimal server-sent events client: reads <c>id:</c> / <c>data:</c> frames into a channel.</summary>
internal sealed class SseClient : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<(long Id, string Data)> _events = Channel.CreateUnbounded<(long, string)>();
    private readonly Task _reading;

    private SseClient(Stream stream)
    {
        _reading = Task.Run(() => ReadAsync(stream));
    }

    public static async Task<SseClient> ConnectAsync(HttpClient http, long? lastEventId, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/v1/alerts/stream", UriKind.Relative));
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        if (lastEventId is { } id)
        {
            request.Headers.Add("Last-Event-ID", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        if (response.Content.Headers.ContentType?.MediaType != "text/event-stream")
        {
            throw new InvalidOperationException($"expected text/event-stream, got {response.Content.Headers.ContentType}");
        }
        return new SseClient(await response.Content.ReadAsStreamAsync(cancellationToken));
    }

    /// <summary>The next event, or an exception after <paramref name="timeout"/>.</summary>
    public async Task<(long Id, string Data)> NextAsync(TimeSpan timeout) =>
        await _events.Reader.ReadAsync(new CancellationTokenSource(timeout).Token);

    /// <summary>Events until one matches, within <paramref name="timeout"/>; returns all read, the match last.</summary>
    public async Task<List<(long Id, string Data)>> UntilAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var read = new List<(long, string)>();
        using var deadline = new CancellationTokenSource(timeout);
        while (true)
        {
            var e = await _events.Reader.ReadAsync(deadline.Token);
            read.Add(e);
            if (match(e.Data))
            {
                return read;
            }
        }
    }

    private async Task ReadAsync(Stream stream)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        long? id = null;
        var data = new StringBuilder();
        try
        {
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                if (line.Length == 0)
                {
                    if (data.Length > 0)
                    {
                        await _events.Writer.WriteAsync((id ?? -1, data.ToString()));
                    }
                    (id, data) = (null, data.Clear());
                }
                else if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    id = long.Parse(line[4..], System.Globalization.CultureInfo.InvariantCulture);
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data.Append(line[6..]);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
        finally
        {
            _events.Writer.TryComplete();
            await stream.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _reading;
        _stop.Dispose();
    }
}
