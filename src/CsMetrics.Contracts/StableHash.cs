namespace CsMetrics.Contracts;

/// <summary>A hash of a string that is the same in every process (string.GetHashCode is not): picks shards.</summary>
public static class StableHash
{
    /// <summary>FNV-1a over the UTF-16 code units.</summary>
    public static uint Of(string value)
    {
        var hash = 2166136261u;
        foreach (var c in value)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return hash;
    }
}
