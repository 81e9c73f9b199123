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

    private static bool MustEscape(char c) => c is '/' or '\\' or '#' or '?' or '%' || char.IsControl(c);
}
