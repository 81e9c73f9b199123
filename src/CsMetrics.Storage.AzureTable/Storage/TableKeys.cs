using System.Text;

namespace CsMetrics.Storage.AzureTable.Storage;

/// <summary>
/// Table keys may not contain / \ # ? or control characters. Escaping them as %XX (and % itself)
/// keeps keys readable and, unlike replacing them with '_', never maps two grains to one row.
/// </summary>
public static class TableKeys
{
    public static string Escape(string key)
    {
        var needs = false;
        foreach (var c in key)
        {
            if (MustEscape(c))
            {
                needs = true;
                break;
            }
        }
        if (!needs)
        {
            return key;
        }
        var sb = new StringBuilder(key.Length + 8);
        foreach (var c in key)
        {
            if (MustEscape(c))
            {
                sb.Append('%').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }

    /// <summary>The shared partition a grain's state lives in with <c>PartitionBuckets</c> &gt; 0: a stable FNV-1a hash of the grain id.</summary>
    public static uint Bucket(string grainId, int buckets)
    {
        var hash = 2166136261u;
        foreach (var c in grainId)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return hash % (uint)buckets;
    }

    private static bool MustEscape(char c) => c is '/' or '\\' or '#' or '?' or '%' || char.IsControl(c);
}
