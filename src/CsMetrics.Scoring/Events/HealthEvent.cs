namespace CsMetrics.Scoring.Events;

/// <summary>Who caused an event. Only <see cref="User"/> counts as product usage.</summary>
public enum Actor : byte
{
    User = 0,
    Bot = 1,
    System = 2,
}

/// <summary>The part of the health score an event type feeds (from the event catalog).</summary>
public enum EventFamily : byte
{
    Usage = 0,
    Support = 1,
    Sentiment = 2,
    Outcomes = 3,
    Billing = 4,
    Account = 5,
}

/// <summary>
/// One validated event, as the scoring engine sees it. Property values are normalised by the
/// catalog: numbers in invariant culture, dates as ISO 8601 UTC.
/// </summary>
public sealed record HealthEvent(
    string Id,
    string Account,
    string Type,
    EventFamily Family,
    DateTimeOffset Timestamp,
    string? User,
    Actor Actor,
    IReadOnlyDictionary<string, string> Properties,
    string? Source = null)
{
    /// <summary>The source of events that name none: one product backend sending plain envelopes.</summary>
    public const string DefaultSource = "default";

    /// <summary>The system that sent this event (envelope field <c>source</c>): silence of a whole source is not churn.</summary>
    public string SourceName => Source ?? DefaultSource;

    public static readonly IReadOnlyDictionary<string, string> NoProperties = new Dictionary<string, string>();

    public string? Property(string name) => Properties.TryGetValue(name, out var value) ? value : null;

    public double? NumberProperty(string name) =>
        Properties.TryGetValue(name, out var value)
        && double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var number)
            ? number
            : null;

    public DateTimeOffset? DateProperty(string name) =>
        Properties.TryGetValue(name, out var value)
        && DateTimeOffset.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var date)
            ? date.ToUniversalTime()
            : null;

    /// <summary>A short description of the event for score explanations ("ticket T-123 escalated").</summary>
    public string Describe() => Type switch
    {
        EventTypes.TicketEscalated => $"ticket {Property("ticket")} escalated",
        EventTypes.TicketOpened => $"ticket {Property("ticket")} opened" + (Property("priority") is { } p ? $" ({p})" : ""),
        EventTypes.TicketResolved => $"ticket {Property("ticket")} resolved",
        EventTypes.NpsResponse => $"NPS {Property("score")}" + (User is null ? "" : $" from {User}"),
        EventTypes.CsatResponse => $"CSAT {Property("score")}" + (User is null ? "" : $" from {User}"),
        EventTypes.Login => User is null ? "login" : $"login by {User}",
        EventTypes.FeatureUsed => $"feature {Property("feature")} used",
        EventTypes.WorkflowCompleted => $"workflow {Property("workflow")} completed",
        EventTypes.IntegrationSetup => $"integration {Property("integration")} set up",
        EventTypes.MilestoneAchieved => $"milestone {Property("milestone")} achieved",
        EventTypes.PaymentFailed => "payment failed",
        EventTypes.PaymentRecovered => "payment recovered",
        EventTypes.SubscriptionCancelled => $"subscription cancelled ({Property("reason")})",
        EventTypes.SubscriptionStarted => $"subscription started at MRR {Property("mrr")}",
        EventTypes.SubscriptionChanged => $"subscription changed to MRR {Property("mrr")}",
        EventTypes.ContractRenewed => $"contract renewed until {Property("renewalDate")}",
        _ => Type.Replace('_', ' '),
    };
}

/// <summary>The built-in event type names of the catalog.</summary>
public static class EventTypes
{
    public const string Login = "login";
    public const string FeatureUsed = "feature_used";
    public const string WorkflowCompleted = "workflow_completed";
    public const string IntegrationSetup = "integration_setup";
    public const string Session = "session";
    public const string TicketOpened = "ticket_opened";
    public const string TicketResolved = "ticket_resolved";
    public const string TicketEscalated = "ticket_escalated";
    public const string NpsResponse = "nps_response";
    public const string CsatResponse = "csat_response";
    public const string MilestoneAchieved = "milestone_achieved";
    public const string ValueRealized = "value_realized";
    public const string SubscriptionStarted = "subscription_started";
    public const string SubscriptionChanged = "subscription_changed";
    public const string SubscriptionCancelled = "subscription_cancelled";
    public const string PaymentFailed = "payment_failed";
    public const string PaymentRecovered = "payment_recovered";
    public const string ContractRenewed = "contract_renewed";
    public const string AccountUpdated = "account_updated";
}
