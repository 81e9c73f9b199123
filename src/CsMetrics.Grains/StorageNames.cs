namespace CsMetrics.Grains;

/// <summary>Names of the Orleans grain storage providers the grains persist through.</summary>
public static class StorageNames
{
    /// <summary>The provider every CsMetrics grain uses; which implementation backs it is host configuration.</summary>
    public const string Default = "csmetrics";
}
