namespace CsMetrics.Scoring.State;

/// <summary>
/// A bounded score history: one point a day (the day's last score) for the last
/// <see cref="MaxDays"/> days, and every band change with its cause (the last
/// <see cref="MaxBandChanges"/>). Kept small on purpose: a daily point is 12 bytes.
/// </summary>
public sealed class ScoreHistory
{
    public const int MaxDays = 180;
    public const int MaxBandChanges = 50;

    /// <summary>Null until the first score (most of an account's memory is elsewhere; this stays small).</summary>
    public List<DailyScore>? Days { get; set; }

    public List<BandChange>? BandChanges { get; set; }

    /// <summary>Records the score at <paramref name="now"/>; a band change also with its cause.</summary>
    public void Record(DateTimeOffset now, double score, Band band, ScoreChange? change)
    {
        var day = Engine.EventApplier.DayNumber(now);
        var point = new DailyScore(day, (float)score, band);
        Days ??= [];
        if (Days.Count > 0 && Days[^1].Day == day)
        {
            Days[^1] = point;
        }
        else if (Days.Count == 0 || Days[^1].Day < day)
        {
            Days.Add(point);
            if (Days.Count > MaxDays)
            {
                Days.RemoveRange(0, Days.Count - MaxDays);
            }
        }
        if (change is { ToBand: { } to } && change.FromBand != to)
        {
            BandChanges ??= [];
            BandChanges.Add(new BandChange(change.At, change.From, score, change.FromBand, to, change.Cause));
            if (BandChanges.Count > MaxBandChanges)
            {
                BandChanges.RemoveRange(0, BandChanges.Count - MaxBandChanges);
            }
        }
    }
}

/// <summary>A day's last score (<see cref="Day"/>: days since 1970-01-01, UTC). Stored as <c>[day, score, band]</c>.</summary>
[System.Text.Json.Serialization.JsonConverter(typeof(DailyScoreJsonConverter))]
public readonly record struct DailyScore(int Day, float Score, Band Band);

/// <summary>A daily point as a three-number array: a year of them is about 5 KB of snapshot, not 15.</summary>
public sealed class DailyScoreJsonConverter : System.Text.Json.Serialization.JsonConverter<DailyScore>
{
    public override DailyScore Read(ref System.Text.Json.Utf8JsonReader reader, Type typeToConvert, System.Text.Json.JsonSerializerOptions options)
    {
        if (reader.TokenType != System.Text.Json.JsonTokenType.StartArray)
        {
            throw new System.Text.Json.JsonException("history.days: expected [day, score, band]");
        }
        reader.Read();
        var day = reader.GetInt32();
        reader.Read();
        var score = reader.GetSingle();
        reader.Read();
        var band = (Band)reader.GetInt32();
        reader.Read();
        return new DailyScore(day, score, band);
    }

    public override void Write(System.Text.Json.Utf8JsonWriter writer, DailyScore value, System.Text.Json.JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        writer.WriteNumberValue(value.Day);
        writer.WriteNumberValue(MathF.Round(value.Score, 1));
        writer.WriteNumberValue((int)value.Band);
        writer.WriteEndArray();
    }
}

public sealed record BandChange(DateTimeOffset At, double? FromScore, double ToScore, Band? From, Band To, string Cause);
