using System.Buffers;
using System.Text.Json;

namespace CsMetrics.Server.Ingest;

/// <summary>A request body read as a list of JSON values, or the reason it could not be.</summary>
internal sealed class ParsedBatch : IDisposable
{
    private readonly List<JsonDocument> _documents = [];

    public List<JsonElement> Events { get; } = [];

    public void Add(JsonDocument document, bool spreadArray)
    {
        _documents.Add(document);
        if (spreadArray)
        {
            foreach (var e in document.RootElement.EnumerateArray())
            {
                Events.Add(e);
            }
        }
        else
        {
            Events.Add(document.RootElement);
        }
    }

    public void Dispose()
    {
        foreach (var d in _documents)
        {
            d.Dispose();
        }
    }
}

internal enum BatchError
{
    None,
    TooLarge,
    TooManyEvents,
    Malformed,
    UnsupportedMediaType,
}

/// <summary>
/// Reads a body of events: a JSON array, or NDJSON (one envelope per line). A syntax error is
/// reported with its line and position; nothing of a malformed body is accepted.
/// </summary>
internal static class BatchReader
{
    // Duplicate keys are refused: {"account":"a","account":"b"} must not be silently read as "b".
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    public static async Task<(byte[]? Body, int Length, BatchError Error)> ReadBodyAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        if (request.ContentLength > maxBytes)
        {
            return (null, 0, BatchError.TooLarge);
        }
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(request.ContentLength ?? 64 * 1024, maxBytes) + 1);
        var length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (buffer.Length > maxBytes)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    return (null, 0, BatchError.TooLarge);
                }
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, maxBytes + 1));
                buffer.AsSpan(0, length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = bigger;
            }
            var read = await request.Body.ReadAsync(buffer.AsMemory(length), ct);
            if (read == 0)
            {
                break;
            }
            length += read;
            if (length > maxBytes)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                return (null, 0, BatchError.TooLarge);
            }
        }
        return (buffer, length, BatchError.None);
    }

    public static void Return(byte[] buffer) => ArrayPool<byte>.Shared.Return(buffer);

    public static bool IsSupportedContentType(string? contentType) =>
        contentType is null
        || contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
        || contentType.StartsWith("application/x-ndjson", StringComparison.OrdinalIgnoreCase)
        || contentType.StartsWith("application/ndjson", StringComparison.OrdinalIgnoreCase)
        || contentType.StartsWith("application/jsonl", StringComparison.OrdinalIgnoreCase)
        || contentType.StartsWith("application/x-jsonlines", StringComparison.OrdinalIgnoreCase)
        || contentType.StartsWith("text/plain", StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses the body; on a syntax error returns a message naming line and position.</summary>
    public static ParsedBatch Parse(ReadOnlyMemory<byte> body, out string? error)
    {
        error = null;
        var batch = new ParsedBatch();
        var span = body.Span;
        if (!System.Text.Unicode.Utf8.IsValid(span))
        {
            error = $"body is not valid UTF-8 (first bad byte at offset {FirstInvalidUtf8(span)})";
            return batch;
        }
        var start = 0;
        while (start < span.Length && span[start] is (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')
        {
            start++;
        }
        if (span.Length - start >= 3 && span[start] == 0xEF && span[start + 1] == 0xBB && span[start + 2] == 0xBF)
        {
            start += 3; // UTF-8 byte order mark
        }
        if (start < span.Length && span[start] == (byte)'[')
        {
            try
            {
                batch.Add(JsonDocument.Parse(body[start..], DocumentOptions), spreadArray: true);
            }
            catch (JsonException e)
            {
                error = $"body is not valid JSON at line {(e.LineNumber ?? 0) + 1}, position {(e.BytePositionInLine ?? 0) + 1}: {Reason(e)}";
            }
            return batch;
        }

        // NDJSON: one JSON object per line; blank lines are allowed.
        var line = 0;
        var offset = start;
        while (offset < span.Length)
        {
            var newline = span[offset..].IndexOf((byte)'\n');
            var end = newline < 0 ? span.Length : offset + newline;
            line++;
            var text = body[offset..end];
            if (!IsBlank(text.Span))
            {
                try
                {
                    batch.Add(JsonDocument.Parse(text, DocumentOptions), spreadArray: false);
                }
                catch (JsonException e)
                {
                    error = $"body is not valid NDJSON at line {line + LinesBefore(span, start)}, position {(e.BytePositionInLine ?? 0) + 1}: {Reason(e)}";
                    return batch;
                }
            }
            offset = end + 1;
        }
        return batch;
    }

    private static int FirstInvalidUtf8(ReadOnlySpan<byte> span)
    {
        var status = System.Text.Unicode.Utf8.ToUtf16(span, new char[span.Length], out var read, out _, replaceInvalidSequences: false);
        return status == System.Buffers.OperationStatus.Done ? -1 : read;
    }

    private static int LinesBefore(ReadOnlySpan<byte> span, int start) => span[..start].Count((byte)'\n');

    private static bool IsBlank(ReadOnlySpan<byte> line)
    {
        foreach (var b in line)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r'))
            {
                return false;
            }
        }
        return true;
    }

    private static string Reason(JsonException e)
    {
        // System.Text.Json appends its own "LineNumber: .. | BytePositionInLine: .." suffix; we report those ourselves.
        var message = e.Message;
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }
}
