using Microsoft.Extensions.DependencyInjection;
using System.Globalization;
using System.Text;
using CsMetrics.Contracts.Accounts;
using CsMetrics.Scoring.Catalog;
using CsMetrics.Server.Access;
using Microsoft.AspNetCore.WebUtilities;

namespace CsMetrics.Server.Query;

/// <summary>
/// The at-risk list (<c>GET /v1/accounts</c>) and the portfolio summary (<c>GET /v1/portfolio</c>),
/// read from the portfolio shards (every shard answers at once and the pages are merged here),
/// never by scanning account grains.
/// </summary>
public static class PortfolioApi
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 500;

    private static readonly string[] BandNames = ["green", "yellow", "red", "none"];
    private static readonly TimeSpan[] Windows = [TimeSpan.FromDays(1), TimeSpan.FromDays(7)];
    private static readonly string[] WindowNames = ["day", "week"];

    public static IEndpointRouteBuilder MapPortfolioApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").RequireScope(Access.Scopes.Read);
        v1.MapGet("/accounts", ListAsync).WithName("ListAccounts");
        v1.MapGet("/portfolio", SummarizeAsync).WithName("GetPortfolio");
        return app;
    }

    private static IResult Bad(string detail) =>
        TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad query", detail: detail);

    internal static async Task<IResult> ListAsync(HttpRequest request, IGrainFactory grains)
    {
        var q = request.Query;
        string[]? bands = null;
        if (q["band"].ToString() is { Length: > 0 } bandText)
        {
            bands = bandText.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (bands.FirstOrDefault(b => !BandNames.Contains(b, StringComparer.Ordinal)) is { } unknown)
            {
                return Bad($"band: expected green, yellow, red or none (several separated by commas), got \"{unknown}\"");
            }
        }
        var sort = q["sort"].ToString() is { Length: > 0 } s ? s : AccountOrder.Default;
        if (!AccountOrder.All.Contains(sort, StringComparer.Ordinal))
        {
            return Bad($"sort: expected one of {string.Join(", ", AccountOrder.All)}, got \"{sort}\"");
        }
        var limit = DefaultLimit;
        if (q["limit"].ToString() is { Length: > 0 } limitText
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > MaxLimit))
        {
            return Bad($"limit: expected a whole number from 1 to {MaxLimit}, got \"{limitText}\"");
        }
        AccountCursor? after = null;
        if (q["cursor"].ToString() is { Length: > 0 } cursorText)
        {
            after = DecodeCursor(cursorText, sort);
            if (after is null)
            {
                return Bad($"cursor: expected the nextCursor of an earlier page with sort={sort}, got \"{cursorText}\"");
            }
        }
        foreach (var field in new[] { "segment", "owner", "q" })
        {
            if (q[field].ToString() is { } value && (value.Length > EventValidator.MaxIdLength || value.Any(char.IsControl)))
            {
                return Bad($"{field}: expected at most {EventValidator.MaxIdLength} characters with no control characters");
            }
        }
        static string? Text(string value) => value.Length > 0 ? value : null;
        var query = new AccountListQuery(bands, Text(q["segment"].ToString()), Text(q["owner"].ToString()), Text(q["q"].ToString()), sort, limit + 1, after);

        var found = await PortfolioShards.ListAsync(grains, query); // one more than asked: is there a next page?
        var more = found.Entries.Length > limit;
        var page = found.Entries.Take(limit).ToArray();
        var next = more ? EncodeCursor(AccountOrder.CursorOf(page[^1], sort), sort) : null;
        var items = page.Select(e => new AccountListItem(e.Account, e.Name, e.Segment, e.Owner, e.Score, e.Band, e.Mrr, e.UpdatedAt)).ToArray();
        return TypedResults.Ok(new AccountListResponse(items, found.Total, next));
    }

    internal static async Task<IResult> SummarizeAsync(IGrainFactory grains, [FromKeyedServices(CsMetrics.Grains.Clock.Key)] TimeProvider time)
    {
        var now = time.GetUtcNow();
        var total = await PortfolioShards.SummarizeAsync(grains, now, Windows);
        var bands = BandNames.ToDictionary(b => b, b => total.Bands.TryGetValue(b, out var t) ? new BandTotalsView(t.Accounts, Math.Round(t.Mrr, 2)) : new BandTotalsView(0, 0));
        var movements = new Dictionary<string, MovementView>(StringComparer.Ordinal);
        for (var w = 0; w < Windows.Length; w++)
        {
            var transitions = (w < total.Movements.Count ? total.Movements[w] : [])
                .OrderBy(t => Rank(t.From)).ThenBy(t => Rank(t.To))
                .Select(t => new TransitionView(t.From, t.To, t.Accounts, Math.Round(t.Mrr, 2)))
                .ToArray();
            movements[WindowNames[w]] = new MovementView(
                transitions.Sum(t => t.Accounts),
                transitions.Where(t => t.From != "none" && Rank(t.To) > Rank(t.From)).Sum(t => t.Accounts),
                transitions.Where(t => t.From != "none" && Rank(t.To) < Rank(t.From)).Sum(t => t.Accounts),
                transitions);
        }
        return TypedResults.Ok(new PortfolioResponse(
            bands.Values.Sum(b => b.Accounts),
            Math.Round(bands.Values.Sum(b => b.Mrr), 2),
            bands,
            bands["red"].Mrr,
            movements,
            now));
    }

    /// <summary>Worst to best: none (no score yet), red, yellow, green.</summary>
    private static int Rank(string band) => band switch { "red" => 1, "yellow" => 2, "green" => 3, _ => 0 };

    private static string EncodeCursor(AccountCursor cursor, string sort)
    {
        var value = cursor.Value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "";
        return WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes($"{sort}\n{value}\n{cursor.Account}"));
    }

    private static AccountCursor? DecodeCursor(string text, string sort)
    {
        try
        {
            var parts = Encoding.UTF8.GetString(WebEncoders.Base64UrlDecode(text)).Split('\n', 3);
            if (parts.Length != 3 || parts[0] != sort)
            {
                return null;
            }
            if (parts[1].Length == 0)
            {
                return new AccountCursor(null, parts[2]);
            }
            return double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? new AccountCursor(value, parts[2]) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }
}

/// <summary>One row of the at-risk list.</summary>
public sealed record AccountListItem(string Account, string? Name, string? Segment, string? Owner, double? Score, string? Band, double? Mrr, DateTimeOffset UpdatedAt);

/// <summary><c>GET /v1/accounts</c>: a page, how many accounts match in all, and the cursor of the next page (null on the last).</summary>
public sealed record AccountListResponse(AccountListItem[] Accounts, int Total, string? NextCursor);

public sealed record BandTotalsView(int Accounts, double Mrr);

public sealed record TransitionView(string From, string To, int Accounts, double Mrr);

/// <summary>Accounts whose band now differs from their band at the start of the window; "none" is an account with no score then.</summary>
public sealed record MovementView(int Moved, int Improved, int Worsened, TransitionView[] Transitions);

/// <summary><c>GET /v1/portfolio</c>: accounts and MRR per band, at-risk (red) MRR, and movements over the last day and week.</summary>
public sealed record PortfolioResponse(int Accounts, double Mrr, Dictionary<string, BandTotalsView> Bands, double AtRiskMrr, Dictionary<string, MovementView> Movements, DateTimeOffset At);
