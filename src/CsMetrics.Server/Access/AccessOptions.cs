namespace CsMetrics.Server.Access;

/// <summary>
/// Who may call the API (section <c>CsMetrics:Access</c>). Keys are configured by their SHA-256
/// hash only (<c>printf '%s' "$KEY" | sha256sum</c>), so configuration never holds a usable key,
/// and a key is only ever logged by its name. With no keys configured the API is open (a
/// development node), and the node says so once at start.
/// </summary>
public sealed class AccessOptions
{
    public const string Section = "CsMetrics:Access";

    public List<ApiKeyOptions> Keys { get; set; } = [];
}

public sealed class ApiKeyOptions
{
    /// <summary>Names the key in logs, errors and the quarantine (a producer: "billing-backend").</summary>
    public string Name { get; set; } = "";

    /// <summary><c>sha256:</c> and the lowercase hex SHA-256 of the key.</summary>
    public string Hash { get; set; } = "";

    /// <summary>Any of <c>ingest</c>, <c>read</c>, <c>admin</c>.</summary>
    public List<string> Scopes { get; set; } = [];

    /// <summary>Sustained requests per second this key may make; 0 for no limit.</summary>
    public double RequestsPerSecond { get; set; } = 100;

    /// <summary>Requests it may make at once above the sustained rate.</summary>
    public int Burst { get; set; } = 200;
}

public static class Scopes
{
    public const string Ingest = "ingest";
    public const string Read = "read";
    public const string Admin = "admin";

    public static IReadOnlyList<string> All { get; } = [Ingest, Read, Admin];
}
