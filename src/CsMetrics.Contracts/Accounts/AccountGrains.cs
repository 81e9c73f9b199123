namespace CsMetrics.Contracts.Accounts;

/// <summary>
/// Grain references by string key for hot paths. <c>GetGrain&lt;T&gt;(key)</c> resolves the interface and
/// grain type from attributes on every call (about a tenth of the node's CPU under ingest); here they
/// are resolved once and each reference is built from the key alone.
/// </summary>
public class GrainReferences<TGrain> where TGrain : IGrainWithStringKey
{
    private readonly IGrainFactory _factory;
    private readonly GrainType _grainType;
    private readonly GrainInterfaceType _interfaceType;

    public GrainReferences(IGrainFactory factory)
    {
        _factory = factory;
        var probe = (GrainReference)(object)factory.GetGrain<TGrain>("probe");
        _grainType = probe.GrainId.Type;
        _interfaceType = probe.InterfaceType;
    }

    public TGrain Get(string key) => (TGrain)_factory.GetGrain(IdOf(key), _interfaceType);

    public GrainId IdOf(string key) => GrainId.Create(_grainType, key);
}

/// <summary>References to account grains, for the ingest path and the event log.</summary>
public sealed class AccountGrains(IGrainFactory factory) : GrainReferences<IAccountGrain>(factory);
