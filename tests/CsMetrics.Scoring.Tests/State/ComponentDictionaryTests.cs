using System.Text.Json;
using CsMetrics.Scoring.Model;
using CsMetrics.Scoring.State;

namespace CsMetrics.Scoring.Tests.State;

public class ComponentDictionaryTests
{
    [Fact]
    public void With_Without_ReadLikeADictionaryByComponentName()
    {
        var values = ComponentDictionary.Empty.With(Component.Support, -7).With(Component.Usage, 2.5).Without(Component.Usage);

        Assert.Equal(-7, values["support"]);
        Assert.False(values.ContainsKey("usage"));
        Assert.Null(values.Get(Component.Usage));
        Assert.Equal([new KeyValuePair<string, double>("support", -7)], values.ToList());
        Assert.Throws<KeyNotFoundException>(() => values["billing"]);
    }

    [Fact]
    public void Minus_SubtractsEachComponentTheOtherHolds_AMissingOneCountingAsZero()
    {
        var current = ComponentDictionary.Empty.With(Component.Support, -7).With(Component.Usage, 2.5);
        var drivers = ComponentDictionary.Empty.With(Component.Usage, 1).With(Component.Sentiment, 3);

        var before = current.Minus(drivers);

        Assert.Equal(-7, before.Get(Component.Support));
        Assert.Equal(1.5, before.Get(Component.Usage));
        Assert.Equal(-3, before.Get(Component.Sentiment));
        Assert.Null(before.Get(Component.Billing));
        Assert.Equal(3, before.Count);
        Assert.Equal(current, current.Minus(ComponentDictionary.Empty));
    }

    [Fact]
    public void With_IsAValue_LeavesTheOriginalAlone()
    {
        var original = ComponentDictionary.Empty.With(Component.Billing, 1);
        var changed = original.With(Component.Billing, 2);

        Assert.Equal(1, original["billing"]);
        Assert.Equal(2, changed["billing"]);
        Assert.NotEqual(original, changed);
        Assert.Equal(original, ComponentDictionary.Empty.With(Component.Billing, 1));
    }

    [Fact]
    public void Json_IsTheObjectTheDictionaryWrote_SoStoredSnapshotsStillRead()
    {
        // The shape a Dictionary<string, double> had in account snapshots before this type.
        var stored = """{"usage":12.5,"support":-7,"someday":3}""";

        var read = JsonSerializer.Deserialize<ComponentDictionary>(stored);

        Assert.Equal(2, read.Count);
        Assert.Equal(12.5, read["usage"]);
        Assert.Equal(-7, read["support"]);
        Assert.Equal("""{"usage":12.5,"support":-7}""", JsonSerializer.Serialize(read));
        Assert.Equal("{}", JsonSerializer.Serialize(ComponentDictionary.Empty));
    }

    [Fact]
    public void Json_NotAnObject_IsAClearError()
    {
        var e = Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<ComponentDictionary>("[1,2]"));
        Assert.Contains("expected an object", e.Message);
    }
}
