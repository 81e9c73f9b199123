using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace CsMetrics.Server.Access;

/// <summary>A caller that presented a known key.</summary>
public sealed record ApiCaller(string Name, IReadOnlySet<string> Scopes);

/// <summary>
/// Resolves the key a request presents (<c>Authorization: Bearer</c>, <c>X-Api-Key</c>, or HTTP
/// Basic with the key as user, the way the Segment and RudderStack SDKs send a write key) to its
/// configured entry by hash, in constant time, and holds each key's token bucket.
/// </summary>
public sealed class ApiKeys : IDisposable
{
    private readonly Dictionary<string, (ApiKeyOptions Options, ApiCaller Caller)> _byHash;
    private readonly Dictionary<string, ApiKeyOptions> _byName;
    private readonly ConcurrentDictionary<string, RateLimiter> _limiters = new(StringComparer.Ordinal);

    public ApiKeys(IOptions<AccessOptions> options)
    {
        _byHash = options.Value.Keys.ToDictionary(
            k => k.Hash.ToLowerInvariant(),
            k => (k, new ApiCaller(k.Name, k.Scopes.ToHashSet(StringComparer.Ordinal))),
            StringComparer.Ordinal);
        _byName = options.Value.Keys.ToDictionary(k => k.Name, StringComparer.Ordinal);
    }

    /// <summary>No keys configured: the API is open.</summary>
    public bool Open => _byHash.Count == 0;

    public static string HashOf(string key) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The key in the request, if any (never logged).</summary>
    public static string? Presented(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.FirstOrDefault();
        if (authorization is not null)
        {
            if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                return authorization[7..].Trim();
            }
            if (authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
            {
                try
                {
                    var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
                    var colon = decoded.IndexOf(':', StringComparison.Ordinal);
                    return colon < 0 ? decoded : decoded[..colon];
                }
                catch (FormatException)
                {
                    return "";
                }
            }
        }
        return request.Headers["X-Api-Key"].FirstOrDefault();
    }

    public ApiCaller? Find(string key)
    {
        var hash = HashOf(key);
        // The dictionary lookup is by hash of the presented key: comparing hashes leaks nothing about a key.
        return _byHash.TryGetValue(hash, out var entry) ? entry.Caller : null;
    }

    /// <summary>Takes one request from the key's bucket; false with the wait when it is empty.</summary>
    public bool TryAcquire(ApiCaller caller, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        var options = _byName[caller.Name];
        if (options.RequestsPerSecond <= 0)
        {
            return true;
        }
        var limiter = _limiters.GetOrAdd(caller.Name, _ => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, options.Burst),
            TokensPerPeriod = Math.Max(1, (int)Math.Ceiling(options.RequestsPerSecond / 10)),
            ReplenishmentPeriod = TimeSpan.FromSeconds(Math.Max(1, (int)Math.Ceiling(options.RequestsPerSecond / 10)) / options.RequestsPerSecond),
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
        using var lease = limiter.AttemptAcquire();
        if (lease.IsAcquired)
        {
            return true;
        }
        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        return false;
    }

    public static string Seconds(TimeSpan wait) =>
        Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);

    public void Dispose()
    {
        foreach (var limiter in _limiters.Values)
        {
            limiter.Dispose();
        }
    }
}

/// <summary>Endpoint metadata: the scope a route needs.</summary>
public sealed record RequiredScope(string Scope);

public static class AccessExtensions
{
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiredScope(scope));

    /// <summary>The caller of this request, once the access middleware let it through (null on an open node).</summary>
    public static ApiCaller? Caller(this HttpContext context) => context.Items[typeof(ApiCaller)] as ApiCaller;

    /// <summary>The producer to name in the quarantine: the key's name, or "anonymous" on an open node.</summary>
    public static string Producer(this HttpContext context) => context.Caller()?.Name ?? "anonymous";
}
