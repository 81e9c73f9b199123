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
        Days ??= new List<DailyScore>(1);
        if (Days.Count > 0 && Days[^1].Day == day)
        {
            Days[^1] = point;
        }
        else if (Days.Count == 0 || Days[^1].Day < day)
        {
            if (Days.Count == Days.Capacity)
            {
                // Most accounts are quiet: start at one point and never hold room beyond the cap.
                Days.Capacity = Math.Min(MaxDays + 1, Math.Max(2, Days.Capacity * 2));
            }
            Days.Add(point);
            if (Days.Count > MaxDays)
            {
                Days.RemoveRange(0, Days.Count - MaxDays);
            }
        }
        if (change is { ToBand: { } to } c && c.FromBand != to)
        {
            BandChanges ??= new List<BandChange>(1);
            BoundedList.Add(BandChanges, new BandChange(c.At, c.From, score, c.FromBand, to, c.Cause), MaxBandChanges);
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

/// <summary>
/// A band change with its cause: a value of 40 bytes held inline in the history's list (an account
/// keeps its last 50), read and stored as the record it replaced (same names, same JSON).
/// </summary>
public readonly record struct BandChange
{
    private readonly long _atTicks;
    private readonly double _fromScore; // NaN: the first score
    private readonly sbyte _from; // -1: the first band

    [System.Text.Json.Serialization.JsonConstructor]
    public BandChange(DateTimeOffset at, double? fromScore, double toScore, Band? from, Band to, string cause)
    {
        _atTicks = at.UtcTicks;
        _fromScore = fromScore ?? double.NaN;
        ToScore = toScore;
        _from = from is { } f ? (sbyte)f : (sbyte)-1;
        To = to;
        Cause = cause;
    }

    /// <summary>When the band changed (UTC).</summary>
    public DateTimeOffset At => new(_atTicks, TimeSpan.Zero);
    public double? FromScore => double.IsNaN(_fromScore) ? null : _fromScore;
    public double ToScore { get; }
    public Band? From => _from < 0 ? null : (Band)_from;
    public Band To { get; }
    public string Cause { get; }
}

/// <summary>Lists of values that keep only their newest <c>max</c> items, and never more room than that.</summary>
public static class BoundedList
{
    /// <summary>
    /// Appends <paramref name="item"/>, dropping the oldest items beyond <paramref name="max"/>. The list
    /// grows by doubling only up to <paramref name="max"/>: a list of 88-byte values left to grow as it
    /// likes would hold 32 slots for 20 items.
    /// </summary>
    public static void Add<T>(List<T> list, T item, int max)
    {
        if (list.Count >= max)
        {
            list.RemoveRange(0, list.Count - max + 1);
        }
        if (list.Count == list.Capacity)
        {
            list.Capacity = Math.Min(max, Math.Max(2, list.Capacity * 2));
        }
        list.Add(item);
    }
}
