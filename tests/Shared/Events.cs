using System.Globalization;
using CsMetrics.Scoring.Catalog;
using CsMetrics.Scoring.Events;

namespace CsMetrics.Testing;

/// <summary>Builds validated-looking events for tests, with the family the catalog gives each type.</summary>
public static class Events
{
    public static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);
    private static int _next;

    public static HealthEvent Make(
        string type,
        DateTimeOffset at,
        Dictionary<string, string>? properties = null,
        string? user = "u-1",
        Actor actor = Actor.User,
        string account = "acme",
        string? id = null) =>
        new(
            id ?? $"evt-{Interlocked.Increment(ref _next)}",
            account,
            type,
            EventCatalog.Default.Find(type)!.FamilyValue,
            at,
            user,
            actor,
            properties ?? []);

    public static HealthEvent Login(DateTimeOffset at, string? id = null, Actor actor = Actor.User) => Make(EventTypes.Login, at, id: id, actor: actor);

    public static HealthEvent Feature(DateTimeOffset at, string feature) => Make(EventTypes.FeatureUsed, at, P("feature", feature));

    public static HealthEvent Workflow(DateTimeOffset at) => Make(EventTypes.WorkflowCompleted, at, P("workflow", "month-end"));

    public static HealthEvent TicketOpened(DateTimeOffset at, string ticket, string priority = "normal") =>
        Make(EventTypes.TicketOpened, at, new() { ["ticket"] = ticket, ["priority"] = priority });

    public static HealthEvent TicketEscalated(DateTimeOffset at, string ticket) => Make(EventTypes.TicketEscalated, at, P("ticket", ticket));

    public static HealthEvent TicketResolved(DateTimeOffset at, string ticket) => Make(EventTypes.TicketResolved, at, P("ticket", ticket));

    public static HealthEvent Nps(DateTimeOffset at, int score) => Make(EventTypes.NpsResponse, at, P("score", score.ToString(CultureInfo.InvariantCulture)));

    public static HealthEvent Csat(DateTimeOffset at, int score) => Make(EventTypes.CsatResponse, at, P("score", score.ToString(CultureInfo.InvariantCulture)));

    public static HealthEvent Milestone(DateTimeOffset at, string name) => Make(EventTypes.MilestoneAchieved, at, P("milestone", name));

    public static HealthEvent SubscriptionStarted(DateTimeOffset at, double mrr) =>
        Make(EventTypes.SubscriptionStarted, at, P("mrr", mrr.ToString(CultureInfo.InvariantCulture)), user: null, actor: Actor.System);

    public static HealthEvent PaymentFailed(DateTimeOffset at) => Make(EventTypes.PaymentFailed, at, user: null, actor: Actor.System);

    public static HealthEvent PaymentRecovered(DateTimeOffset at) => Make(EventTypes.PaymentRecovered, at, user: null, actor: Actor.System);

    public static Dictionary<string, string> P(string name, string value) => new() { [name] = value };

    /// <summary>A healthy month: daily logins, most key features, workflows, a promoter, milestones, paid billing.</summary>
    public static List<HealthEvent> HealthyMonth(DateTimeOffset now)
    {
        var start = now.AddDays(-60);
        var list = new List<HealthEvent> { SubscriptionStarted(start, 2000) };
        string[] features = ["reports", "dashboards", "alerts", "integrations", "exports", "automation"];
        for (var d = 0; d < 28; d++)
        {
            var day = now.AddDays(-d).AddHours(-1);
            list.Add(Login(day));
            list.Add(Feature(day, features[d % features.Length]));
            if (d % 3 == 0)
            {
                list.Add(Workflow(day));
            }
        }
        list.Add(Nps(now.AddDays(-5), 10));
        list.Add(Csat(now.AddDays(-3), 5));
        list.Add(Milestone(start.AddDays(5), "first-report"));
        list.Add(Milestone(start.AddDays(20), "team-invited"));
        list.Add(TicketOpened(now.AddDays(-10), "T-1"));
        list.Add(TicketResolved(now.AddDays(-10).AddHours(4), "T-1"));
        return list;
    }

    /// <summary>A slipping account: no human usage for 30 days, three escalations, a detractor, a failed payment.</summary>
    public static List<HealthEvent> ChurningAccount(DateTimeOffset now)
    {
        var start = now.AddDays(-120);
        var list = new List<HealthEvent> { SubscriptionStarted(start, 900) };
        for (var d = 31; d < 60; d++)
        {
            list.Add(Login(now.AddDays(-d)));
        }
        list.Add(Login(now.AddDays(-2), actor: Actor.Bot));
        for (var t = 1; t <= 3; t++)
        {
            list.Add(TicketOpened(now.AddDays(-12 - t), $"T-{t}", "high"));
            list.Add(TicketEscalated(now.AddDays(-5 - t), $"T-{t}"));
        }
        list.Add(Nps(now.AddDays(-4), 2));
        list.Add(PaymentFailed(now.AddDays(-2)));
        return list;
    }
}
