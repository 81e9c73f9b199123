namespace CsMetrics.Scoring.Alerting;

/// <summary>Alert types and severities (PRODUCT.md, "Alerts"): the names clients see.</summary>
public static class AlertKinds
{
    public const string EnteredRed = "entered_red";
    public const string EnteredYellow = "entered_yellow";
    public const string Recovered = "recovered";
    public const string SharpDrop = "sharp_drop";
    public const string GoneSilent = "gone_silent";
    public const string PaymentFailed = "payment_failed";
    public const string ExpansionSignal = "expansion_signal";

    /// <summary>A critical alert nobody acknowledged in time, raised to the escalation target.</summary>
    public const string Escalated = "escalated";

    /// <summary>An ops alert: every account fed by one source stopped at once.</summary>
    public const string SourceSilent = "source_silent";

    /// <summary>An ops alert: a producer's share of rejected events jumped.</summary>
    public const string SchemaDrift = "schema_drift";

    public const string Critical = "critical";
    public const string Warning = "warning";
    public const string Informational = "informational";
    public const string Opportunity = "opportunity";

    public static IReadOnlyList<string> All { get; } =
        [EnteredRed, EnteredYellow, Recovered, SharpDrop, GoneSilent, PaymentFailed, ExpansionSignal, Escalated, SourceSilent, SchemaDrift];

    public static IReadOnlyList<string> Severities { get; } = [Critical, Warning, Informational, Opportunity];

    public static bool IsKnown(string type) => All.Contains(type, StringComparer.Ordinal);

    public static string SeverityOf(string type) => type switch
    {
        EnteredRed or PaymentFailed or Escalated => Critical,
        EnteredYellow or SharpDrop or GoneSilent or SourceSilent or SchemaDrift => Warning,
        ExpansionSignal => Opportunity,
        _ => Informational,
    };
}
