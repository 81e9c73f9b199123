using CsMetrics.Contracts.Alerts;
using CsMetrics.Storage.AzureTable.ChangeLog;

namespace CsMetrics.Storage.AzureTable.Alerts;

/// <summary>Alerts and their changes in Azure Table Storage: partitions <c>{ServiceId}_alertlog</c> and <c>{ServiceId}_alertsnap…</c>.</summary>
public sealed class AzureTableAlertStore(string connectionString, string tableName, string serviceId, TimeSpan requestTimeout)
    : AzureTableChangeStore<Alert>(connectionString, tableName, serviceId, "alert", AlertListJsonContext.Default.ListAlert, requestTimeout), IAlertStore;
