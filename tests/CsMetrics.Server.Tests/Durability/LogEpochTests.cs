using CsMetrics.Contracts.Accounts;
using CsMetrics.Server.Durability;

namespace CsMetrics.Server.Tests.Durability;

public class LogEpochTests
{
    private static Task<AccountIngestResult> Delivered(string account, Guid incarnation) =>
        Task.FromResult(new AccountIngestResult(account, 1, 0, 0, null, incarnation));

    [Fact]
    public void Record_FailedOrNeverStartedDeliveries_AreSuspectSoTruncationFeedsThemAgain()
    {
        var epoch = new LogEpoch();
        var incarnation = Guid.NewGuid();
        Task<AccountIngestResult>?[] calls =
        [
            Delivered("a", incarnation),
            Task.FromException<AccountIngestResult>(new TimeoutException()),
            null, // the request failed before this account's call started
        ];

        epoch.Record(["a", "b", "c"], calls);

        Assert.Equal(incarnation, epoch.Accounts["a"].Incarnation);
        Assert.False(epoch.Accounts["a"].Suspect);
        Assert.True(epoch.Accounts["b"].Suspect);
        Assert.True(epoch.Accounts["c"].Suspect);
    }

    [Fact]
    public void Record_TwoIncarnationsInOneEpoch_MakeTheAccountSuspect()
    {
        var epoch = new LogEpoch();
        epoch.Record(["a"], [Delivered("a", Guid.NewGuid())]);
        epoch.Record(["a"], [Delivered("a", Guid.NewGuid())]);

        // The first incarnation may have gone without checkpointing what it was given.
        Assert.True(epoch.Accounts["a"].Suspect);
    }

    [Fact]
    public void Record_TheSameIncarnationAgain_StaysTrusted()
    {
        var epoch = new LogEpoch();
        var incarnation = Guid.NewGuid();
        epoch.Record(["a"], [Delivered("a", incarnation)]);
        epoch.Record(["a"], [Delivered("a", incarnation)]);

        Assert.False(epoch.Accounts["a"].Suspect);
    }
}
