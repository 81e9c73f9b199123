namespace CsMetrics.Testing;

/// <summary>In test projects Azurite is an xunit fixture.</summary>
public sealed partial class Azurite : IAsyncLifetime;
