using System.Globalization;
using CsMetrics.Scoring.Events;

namespace CsMetrics.Benchmarks;

/// <summary>
/// The load generator's event mix (<see cref="Load.Bodies"/>) as parsed events, for the phases that
/// run the engine in this process (<see cref="StateSize"/>, <see cref="ScoringCost"/>): every string
/// a fresh one, as parsing a body makes it.
/// </summary>
internal static class ParsedLoad
{
    public static HealthEvent Event(Random rng, string id, string account, DateTimeOffset now)
    {
        var at = now.AddSeconds(-rng.Next(0, 24 * 3600));
        var (type, family, properties) = rng.Next(20) switch
        {
            < 8 => (EventTypes.Login, EventFamily.Usage, new Dictionary<string, string>()),
            < 15 => (EventTypes.FeatureUsed, EventFamily.Usage, new Dictionary<string, string> { ["feature"] = new string(Load.Features[rng.Next(Load.Features.Length)]) }),
            < 17 => (EventTypes.WorkflowCompleted, EventFamily.Usage, new Dictionary<string, string> { ["workflow"] = "w" }),
            17 => (EventTypes.TicketOpened, EventFamily.Support, new Dictionary<string, string> { ["ticket"] = $"T-{rng.Next(5)}", ["priority"] = new string("normal") }),
            18 => (EventTypes.NpsResponse, EventFamily.Sentiment, new Dictionary<string, string> { ["score"] = rng.Next(11).ToString(CultureInfo.InvariantCulture) }),
            _ => (EventTypes.Session, EventFamily.Usage, new Dictionary<string, string> { ["duration"] = rng.Next(60, 3600).ToString(CultureInfo.InvariantCulture) }),
        };
        return new HealthEvent(id, account, type, family, at, $"u-{rng.Next(20)}", Actor.User, properties);
    }
}
