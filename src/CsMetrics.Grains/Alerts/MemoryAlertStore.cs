using CsMetrics.Contracts.Alerts;
using CsMetrics.Grains.Storage;

namespace CsMetrics.Grains.Alerts;

/// <summary>Alerts kept in this process only (the <c>Memory</c> storage provider); a restart forgets them.</summary>
public sealed class MemoryAlertStore : MemoryChangeStore<Alert>, IAlertStore;
