namespace CsMetrics.Server.Ingest;

/// <summary>The answer to <c>POST /v1/events</c> (field names are the public contract).</summary>
public sealed record IngestResponse(
    int Accepted,
    int Duplicates,
    int Late,
    IReadOnlyList<RejectedEvent> Rejected,
    IReadOnlyList<ChangedAccount> Changed);

/// <summary>An event that was not accepted: its index in the body, its id if it had one, and why.</summary>
public sealed record RejectedEvent(int Index, string? Id, string Reason);

public sealed record ChangedAccount(string Account, double? From, double? To, string? Band);
