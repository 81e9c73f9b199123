using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace CsMetrics.Scoring.Model;

/// <summary>
/// The scoring model: weights, sub-metric curves, windows, bands and per-segment cadence.
/// One versioned JSON file (Defaults/scoring-model.json) is the single source of truth;
/// docs/scoring.md explains every number in it.
/// </summary>
public sealed class ScoringModel
{
    public required string Version { get; init; }
    public required ComponentWeights Weights { get; init; }
    public required BandModel Bands { get; init; }
    public required IngestModel Ingest { get; init; }
    public required EvaluationModel Evaluation { get; init; }
    public required UsageModel Usage { get; init; }
    public required SupportModel Support { get; init; }
    public required SentimentModel Sentiment { get; init; }
    public required OutcomesModel Outcomes { get; init; }
    public required BillingModel Billing { get; init; }
    public required AlertModel Alerts { get; init; }

    /// <summary>The model that ships with CsMetrics.</summary>
    public static ScoringModel Default { get; } = LoadEmbedded();

    public static ScoringModel LoadEmbedded()
    {
        using var stream = ValidatedJson.Embedded("CsMetrics.Scoring.scoring-model.json");
        return Parse(stream, "embedded scoring-model.json");
    }

    /// <summary>Reads and validates a model; throws <see cref="ModelValidationException"/> listing every bad setting.</summary>
    public static ScoringModel Parse(Stream json, string source) =>
        ValidatedJson.Parse(json, source, ModelJsonContext.Default.ScoringModel, ScoringModelValidator.Validate, static (s, e) => new ModelValidationException(s, e));

    public string ToJson() => JsonSerializer.Serialize(this, ModelJsonContext.Default.ScoringModel);

    public double Weight(Component component) => component switch
    {
        Component.Usage => Weights.Usage,
        Component.Support => Weights.Support,
        Component.Sentiment => Weights.Sentiment,
        Component.Outcomes => Weights.Outcomes,
        Component.Billing => Weights.Billing,
        _ => throw new ArgumentOutOfRangeException(nameof(component)),
    };
}

public sealed class ComponentWeights
{
    public double Usage { get; init; }
    public double Support { get; init; }
    public double Sentiment { get; init; }
    public double Outcomes { get; init; }
    public double Billing { get; init; }
}

public sealed class BandModel
{
    /// <summary>Lowest score of the green band.</summary>
    public double Green { get; init; }
    /// <summary>Lowest score of the yellow band; below it is red.</summary>
    public double Yellow { get; init; }
    /// <summary>How far past a band edge a score must go before the band changes.</summary>
    public double Hysteresis { get; init; }
}

public sealed class IngestModel
{
    /// <summary>Events older than this (event time vs now) are kept but not applied; also how long event ids are remembered.</summary>
    public double GraceHours { get; init; }
    /// <summary>Events dated further in the future than this are rejected.</summary>
    public double ClockSkewMinutes { get; init; }
    /// <summary>Most event ids one account remembers for de-duplication.</summary>
    public int DedupMaxIds { get; init; }
    /// <summary>User-agent substrings (case-insensitive) that mark an event as a bot's.</summary>
    public required IReadOnlyList<string> BotUserAgents { get; init; }
}

public sealed class EvaluationModel
{
    /// <summary>How often an active account re-scores itself with no new event (silence decays).</summary>
    public double ReevaluateMinutes { get; init; }
    /// <summary>How many explained score changes an account keeps.</summary>
    public int MaxChanges { get; init; }
}

public sealed class UsageModel
{
    public int WindowDays { get; init; }
    public int RecentDays { get; init; }
    public double RecentWeight { get; init; }
    public required IReadOnlyDictionary<string, double> SubWeights { get; init; }
    public required IReadOnlyList<string> KeyFeatures { get; init; }
    public int ExpectedBreadth { get; init; }
    public double ExpectedWorkflows { get; init; }
    /// <summary>Expected active days per window, by segment; "default" for any other segment.</summary>
    public required IReadOnlyDictionary<string, double> Cadence { get; init; }

    public double CadenceFor(string? segment) =>
        segment is not null && Cadence.TryGetValue(segment.ToLowerInvariant(), out var days) ? days : Cadence["default"];
}

public sealed class SupportModel
{
    public required IReadOnlyDictionary<string, double> SubWeights { get; init; }
    public required IReadOnlyDictionary<string, double> PriorityWeights { get; init; }
    public double OpenLoadForZero { get; init; }
    public int EscalationWindowDays { get; init; }
    public double EscalationsForZero { get; init; }
    public int ResolutionWindowDays { get; init; }
    public double ResolutionTargetHours { get; init; }
    public double ResolutionWorstHours { get; init; }
    public int AgeingDays { get; init; }
    public double AgeingForZero { get; init; }
    public int MaxTickets { get; init; }

    /// <summary>
    /// Scoring asks this for every open ticket on every event (up to 64 a call): a frozen copy of
    /// <see cref="PriorityWeights"/> answers without hashing the name (2 % of a node's CPU as a dictionary).
    /// </summary>
    public double PriorityWeight(string? priority)
    {
        var weights = _priorityWeights ??= PriorityWeights.ToFrozenDictionary(StringComparer.Ordinal);
        return weights.TryGetValue(priority ?? "normal", out var weight) ? weight : weights["normal"];
    }

    private FrozenDictionary<string, double>? _priorityWeights;
}

public sealed class SentimentModel
{
    public required IReadOnlyDictionary<string, double> SubWeights { get; init; }
    public double HalfLifeDays { get; init; }
    public double Prior { get; init; }
    public double PriorWeight { get; init; }
    public int MaxAgeDays { get; init; }
    public int MaxResponses { get; init; }
    /// <summary>Points (0..100) for NPS answers 0..10.</summary>
    public required IReadOnlyList<double> NpsPoints { get; init; }
    /// <summary>Points (0..100) for CSAT answers 1..5.</summary>
    public required IReadOnlyList<double> CsatPoints { get; init; }
}

public sealed class OutcomesModel
{
    public required IReadOnlyDictionary<string, double> SubWeights { get; init; }
    public int MilestoneEveryDays { get; init; }
    public int ExpectedMilestones { get; init; }
    public double TtvTargetDays { get; init; }
    public double TtvWorstDays { get; init; }
    public int MaxMilestones { get; init; }
}

public sealed class BillingModel
{
    public required IReadOnlyDictionary<string, double> SubWeights { get; init; }
    public int FailureWindowDays { get; init; }
    public double FailuresForZero { get; init; }
    public int ContractionWindowDays { get; init; }
    public double RenewalWarningDays { get; init; }
    public double RenewalFloor { get; init; }
    public double InvoluntaryCancellationScore { get; init; }
}

/// <summary>The five components of the health score.</summary>
/// <summary>
/// When alerts fire (PRODUCT.md, "Alerts"): a band change alerts at once when decisive (more than
/// <see cref="DecisiveMargin"/> points past the edge, beyond the hysteresis) and otherwise only
/// after the new band has held for <see cref="DwellMinutes"/>; a type that fired does not fire
/// again for <see cref="CooldownHours"/> (a new trigger updates the open alert instead).
/// </summary>
public sealed class AlertModel
{
    public double DwellMinutes { get; init; }

    /// <summary>How long a marginal improvement must hold before "recovered" (a decisive one alerts at once).</summary>
    public double RecoveryDwellHours { get; init; }

    public double DecisiveMargin { get; init; }
    public double CooldownHours { get; init; }
    public required SharpDropModel SharpDrop { get; init; }
    public required GoneSilentModel GoneSilent { get; init; }
    public double PaymentFailedGraceHours { get; init; }
    public required ExpansionModel Expansion { get; init; }
    public required EscalationModel Escalation { get; init; }

    /// <summary>Recommended actions per alert type, shown with every alert of that type.</summary>
    public required IReadOnlyDictionary<string, IReadOnlyList<string>> Playbooks { get; init; }

    public IReadOnlyList<string> PlaybookFor(string type) => Playbooks.TryGetValue(type, out var steps) ? steps : [];
}

public sealed class SharpDropModel
{
    public double Points { get; init; }
    public double WindowHours { get; init; }
}

public sealed class GoneSilentModel
{
    /// <summary>No human usage for this many days raises "gone silent".</summary>
    public double Days { get; init; }

    /// <summary>A source with no event at all for this long is itself quiet: its accounts are not alerted, the source is.</summary>
    public double SourceQuietHours { get; init; }
}

public sealed class ExpansionModel
{
    /// <summary>Latest NPS at least this (a promoter) ...</summary>
    public int MinNps { get; init; }

    /// <summary>... and the usage component at least this.</summary>
    public double MinUsageScore { get; init; }

    public double CooldownDays { get; init; }
}

public sealed class EscalationModel
{
    /// <summary>A critical alert not acknowledged within this many minutes escalates.</summary>
    public double AfterMinutes { get; init; }

    /// <summary>Who an escalation is assigned to (a team or role).</summary>
    public required string Target { get; init; }
}

public enum Component
{
    Usage,
    Support,
    Sentiment,
    Outcomes,
    Billing,
}

/// <summary>A model file that cannot be used, with every bad setting named.</summary>
public sealed class ModelValidationException(string source, IReadOnlyList<string> errors)
    : Exception($"{source} is not a valid file: " + string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    WriteIndented = true,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(ScoringModel))]
internal sealed partial class ModelJsonContext : JsonSerializerContext;
