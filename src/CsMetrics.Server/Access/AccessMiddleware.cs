namespace CsMetrics.Server.Access;

/// <summary>
/// Checks every routed request against the scope its endpoint requires: 401 with no key or an
/// unknown one, 403 naming the scope needed, 429 with <c>Retry-After</c> past the key's rate.
/// Routes without a <see cref="RequiredScope"/> (health checks) are open.
/// </summary>
public sealed partial class AccessMiddleware(RequestDelegate next, ApiKeys keys, ILogger<AccessMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var required = context.GetEndpoint()?.Metadata.GetMetadata<RequiredScope>();
        if (required is null || keys.Open)
        {
            await next(context);
            return;
        }
        var presented = ApiKeys.Presented(context.Request);
        if (string.IsNullOrEmpty(presented))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer, Basic realm=\"CsMetrics\"";
            await Problem(context, StatusCodes.Status401Unauthorized, "API key required",
                $"Authorization: {context.Request.Method} {context.Request.Path} needs a key with scope '{required.Scope}'; send it as 'Authorization: Bearer <key>', 'X-Api-Key: <key>', or as the HTTP Basic user (a Segment write key)");
            return;
        }
        if (keys.Find(presented) is not { } caller)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer, Basic realm=\"CsMetrics\"";
            await Problem(context, StatusCodes.Status401Unauthorized, "Unknown API key", "Authorization: the key presented is not configured on this node");
            return;
        }
        if (!caller.Scopes.Contains(required.Scope))
        {
            LogForbidden(logger, caller.Name, required.Scope, context.Request.Method, context.Request.Path);
            await Problem(context, StatusCodes.Status403Forbidden, "Scope missing",
                $"scope: {context.Request.Method} {context.Request.Path} needs scope '{required.Scope}'; key '{caller.Name}' has {(caller.Scopes.Count == 0 ? "none" : string.Join(", ", caller.Scopes.Order()))}");
            return;
        }
        if (!keys.TryAcquire(caller, out var wait))
        {
            context.Response.Headers.RetryAfter = ApiKeys.Seconds(wait);
            await Problem(context, StatusCodes.Status429TooManyRequests, "Rate limit",
                $"rate: key '{caller.Name}' is over its limit of requests per second; retry after {ApiKeys.Seconds(wait)} s");
            return;
        }
        context.Items[typeof(ApiCaller)] = caller;
        await next(context);
    }

    private static Task Problem(HttpContext context, int status, string title, string detail) =>
        Results.Problem(statusCode: status, title: title, detail: detail).ExecuteAsync(context);

    [LoggerMessage(Level = LogLevel.Information, Message = "Key {Key} refused: {Method} {Path} needs scope {Scope}")]
    private static partial void LogForbidden(ILogger logger, string key, string scope, string method, PathString path);
}
