using System.Globalization;
using CsMetrics.Scoring.Events;

namespace CsMetrics.Simulator;

/// <summary>What an account is doing, known to the simulator and hidden from CsMetrics.</summary>
public enum Trajectory
{
    /// <summary>Steady use, tickets resolved, content customers.</summary>
    Healthy,

    /// <summary>Usage falls away, tickets escalate, NPS drops, a payment fails.</summary>
    Churning,

    /// <summary>Usage and breadth grow, a promoter, more seats.</summary>
    Expanding,
}

/// <summary>One simulated account: who it is and what it is doing.</summary>
public sealed record SimulatedAccount(string Id, string Segment, Trajectory Trajectory, int Users, double Mrr, DateTimeOffset Since);

/// <summary>
/// A seeded population across segments (smb, mid-market, enterprise) with different cadences,
/// feature breadth, support load, surveys and billing, and a known share sliding toward churn or
/// expanding. <see cref="Day"/> gives the events of one simulated day, in event-time order; the
/// same seed gives the same population and the same events.
/// </summary>
public sealed class Population
{
    private static readonly string[] Features = ["reports", "dashboards", "alerts", "integrations", "exports", "automation", "api", "collaboration"];
    private static readonly (string Name, double Share, int MinUsers, int MaxUsers, double Mrr)[] Segments =
    [
        ("smb", 0.5, 1, 5, 300), ("mid-market", 0.35, 5, 25, 2500), ("enterprise", 0.15, 20, 120, 15000),
    ];

    private readonly int _seed;

    public Population(int accounts, double churnShare, double expandShare, DateTimeOffset start, int seed = 1)
    {
        _seed = seed;
        Start = start;
        var rng = new Random(seed);
        var list = new List<SimulatedAccount>(accounts);
        for (var i = 0; i < accounts; i++)
        {
            var roll = rng.NextDouble();
            var segment = roll < Segments[0].Share ? Segments[0] : roll < Segments[0].Share + Segments[1].Share ? Segments[1] : Segments[2];
            var trajectoryRoll = rng.NextDouble();
            var trajectory = trajectoryRoll < churnShare ? Trajectory.Churning : trajectoryRoll < churnShare + expandShare ? Trajectory.Expanding : Trajectory.Healthy;
            list.Add(new SimulatedAccount(
                string.Create(CultureInfo.InvariantCulture, $"sim-{segment.Name[0]}-{i:D5}"),
                segment.Name, trajectory, rng.Next(segment.MinUsers, segment.MaxUsers + 1),
                Math.Round(segment.Mrr * (0.6 + rng.NextDouble()), 0), start.AddDays(-rng.Next(60, 300))));
        }
        Accounts = list;
    }

    public DateTimeOffset Start { get; }

    public IReadOnlyList<SimulatedAccount> Accounts { get; }

    /// <summary>The ground truth as CSV: account, segment, trajectory.</summary>
    public string GroundTruthCsv() =>
        "account,segment,trajectory\n" + string.Join('\n', Accounts.Select(a => $"{a.Id},{a.Segment},{a.Trajectory.ToString().ToLowerInvariant()}"));

    /// <summary>
    /// Everything before the simulation starts: each account's profile, subscription, first
    /// milestones, and the last four weeks of normal use (every account starts out looking healthy).
    /// </summary>
    public List<HealthEvent> History()
    {
        var events = new List<HealthEvent>();
        foreach (var a in Accounts)
        {
            var rng = Rng(a, -1);
            var counter = 0;
            string Id() => $"{a.Id}-h{counter++}";
            events.Add(Event(Id(), a, EventTypes.AccountUpdated, a.Since, null, ("name", $"{a.Segment} customer {a.Id[^5..]}"), ("segment", a.Segment), ("seats", a.Users.ToString(CultureInfo.InvariantCulture))));
            events.Add(Event(Id(), a, EventTypes.SubscriptionStarted, a.Since, null, ("mrr", a.Mrr.ToString(CultureInfo.InvariantCulture))));
            events.Add(Event(Id(), a, EventTypes.MilestoneAchieved, a.Since.AddDays(7), null, ("milestone", "first-value")));
            events.Add(Event(Id(), a, EventTypes.MilestoneAchieved, a.Since.AddDays(30), null, ("milestone", "team-invited")));
            for (var d = 28; d >= 1; d--)
            {
                Usage(events, a, rng, Start.AddDays(-d), intensity: 1.0, breadth: 5, Id);
            }
            events.Add(Event(Id(), a, EventTypes.NpsResponse, Start.AddDays(-20), "u-0", ("score", rng.Next(7, 11).ToString(CultureInfo.InvariantCulture))));
        }
        events.Sort((x, y) => x.Timestamp.CompareTo(y.Timestamp));
        return events;
    }

    /// <summary>The events of simulated day <paramref name="day"/> (0 = <see cref="Start"/>) for every account.</summary>
    public List<HealthEvent> Day(int day)
    {
        var events = new List<HealthEvent>();
        var date = Start.AddDays(day);
        foreach (var a in Accounts)
        {
            var rng = Rng(a, day);
            var counter = 0;
            string Id() => $"{a.Id}-d{day}-{counter++}";
            switch (a.Trajectory)
            {
                case Trajectory.Healthy:
                    Usage(events, a, rng, date, intensity: 1.0, breadth: 5, Id);
                    if (rng.NextDouble() < 0.03)
                    {
                        var ticket = $"{a.Id}-T{day}";
                        events.Add(Event(Id(), a, EventTypes.TicketOpened, date.AddHours(10), "u-1", ("ticket", ticket), ("priority", "normal")));
                        events.Add(Event(Id(), a, EventTypes.TicketResolved, date.AddHours(15), null, ("ticket", ticket)));
                    }
                    if (day == 20)
                    {
                        events.Add(Event(Id(), a, EventTypes.NpsResponse, date.AddHours(12), "u-0", ("score", rng.Next(8, 11).ToString(CultureInfo.InvariantCulture))));
                    }
                    break;
                case Trajectory.Expanding:
                    Usage(events, a, rng, date, intensity: 1.0 + day / 15.0, breadth: Math.Min(8, 5 + day / 8), Id);
                    if (day == 12)
                    {
                        events.Add(Event(Id(), a, EventTypes.NpsResponse, date.AddHours(12), "u-0", ("score", "10")));
                    }
                    if (day == 25)
                    {
                        events.Add(Event(Id(), a, EventTypes.SubscriptionChanged, date.AddHours(9), null, ("mrr", Math.Round(a.Mrr * 1.4).ToString(CultureInfo.InvariantCulture))));
                    }
                    break;
                case Trajectory.Churning:
                    // Usage fades over the first two weeks and stops; support load rises; sentiment and billing follow.
                    var intensity = Math.Max(0, 1.0 - day / 12.0);
                    Usage(events, a, rng, date, intensity, breadth: Math.Max(1, 5 - day / 3), Id);
                    if (day is 6 or 9 or 12)
                    {
                        var ticket = $"{a.Id}-T{day}";
                        events.Add(Event(Id(), a, EventTypes.TicketOpened, date.AddHours(10), "u-1", ("ticket", ticket), ("priority", "high")));
                        events.Add(Event(Id(), a, EventTypes.TicketEscalated, date.AddDays(1).AddHours(10), null, ("ticket", ticket)));
                    }
                    if (day == 15)
                    {
                        events.Add(Event(Id(), a, EventTypes.NpsResponse, date.AddHours(12), "u-0", ("score", rng.Next(0, 4).ToString(CultureInfo.InvariantCulture))));
                        events.Add(Event(Id(), a, EventTypes.CsatResponse, date.AddHours(13), "u-1", ("score", "1")));
                    }
                    if (day == 18)
                    {
                        events.Add(Event(Id(), a, EventTypes.PaymentFailed, date.AddHours(3), null));
                    }
                    break;
            }
        }
        events.Sort((x, y) => x.Timestamp.CompareTo(y.Timestamp));
        return events;
    }

    /// <summary>A day of product use: each user logs in with a probability, uses features, finishes workflows.</summary>
    private static void Usage(List<HealthEvent> events, SimulatedAccount a, Random rng, DateTimeOffset date, double intensity, int breadth, Func<string> id)
    {
        var cadence = a.Segment switch { "enterprise" => 0.9, "mid-market" => 0.8, _ => 0.65 };
        for (var u = 0; u < Math.Min(a.Users, 30); u++)
        {
            if (rng.NextDouble() >= cadence * Math.Min(1, intensity))
            {
                continue;
            }
            var at = date.AddHours(8 + rng.Next(10)).AddMinutes(rng.Next(60));
            var user = $"u-{u}";
            events.Add(Event(id(), a, EventTypes.Login, at, user));
            for (var f = 0; f < 1 + rng.Next(3); f++)
            {
                events.Add(Event(id(), a, EventTypes.FeatureUsed, at.AddMinutes(5 + f), user, ("feature", Features[rng.Next(Math.Clamp(breadth, 1, Features.Length))])));
            }
            if (rng.NextDouble() < 0.3 * intensity)
            {
                events.Add(Event(id(), a, EventTypes.WorkflowCompleted, at.AddMinutes(30), user, ("workflow", "month-end")));
            }
        }
    }

    /// <summary>Each account's day has its own generator: the same seed gives the same events, whatever else is simulated.</summary>
    private Random Rng(SimulatedAccount a, int day) => new(unchecked((_seed * 7919) ^ StableHash(a.Id, day)));

    private static int StableHash(string s, int day)
    {
        var h = 17 + day;
        foreach (var c in s)
        {
            h = (h * 31) + c;
        }
        return h;
    }

    private static HealthEvent Event(string id, SimulatedAccount a, string type, DateTimeOffset at, string? user, params (string Name, string Value)[] properties) =>
        new(id, a.Id, type, FamilyOf(type), at, user, Actor.User,
            properties.Length == 0 ? HealthEvent.NoProperties : properties.ToDictionary(p => p.Name, p => p.Value), "simulator");

    private static EventFamily FamilyOf(string type) => type switch
    {
        EventTypes.Login or EventTypes.FeatureUsed or EventTypes.WorkflowCompleted => EventFamily.Usage,
        EventTypes.TicketOpened or EventTypes.TicketResolved or EventTypes.TicketEscalated => EventFamily.Support,
        EventTypes.NpsResponse or EventTypes.CsatResponse => EventFamily.Sentiment,
        EventTypes.MilestoneAchieved => EventFamily.Outcomes,
        EventTypes.AccountUpdated => EventFamily.Account,
        _ => EventFamily.Billing,
    };
}
