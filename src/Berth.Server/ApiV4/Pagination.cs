using System.Globalization;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.ApiV4;

/// <summary>
/// GitLab's offset pagination: <c>page</c> (from 1) and <c>per_page</c> (default 20, at most 100), answered
/// with <c>X-Page</c>, <c>X-Per-Page</c>, <c>X-Total</c>, <c>X-Total-Pages</c>, <c>X-Next-Page</c>,
/// <c>X-Prev-Page</c> (empty when there is none) and a <c>Link</c> header with <c>prev</c>, <c>next</c>,
/// <c>first</c> and <c>last</c> URLs.
/// </summary>
public static class Pagination
{
    /// <summary>Default page size.</summary>
    public const int DefaultPerPage = 20;

    /// <summary>Largest page size.</summary>
    public const int MaxPerPage = 100;

    /// <summary>Reads <c>page</c> and <c>per_page</c> from the query.</summary>
    /// <exception cref="ApiException">Not integers (400).</exception>
    public static (int Page, int PerPage) Read(HttpRequest request)
    {
        int page = ReadInt(request, "page") ?? 1;
        int perPage = ReadInt(request, "per_page") ?? DefaultPerPage;
        if (page < 1) page = 1;
        if (perPage < 1) perPage = DefaultPerPage;
        return (page, Math.Min(perPage, MaxPerPage));
    }

    private static int? ReadInt(HttpRequest request, string name)
    {
        var s = request.Query[name].ToString();
        if (s.Length == 0) return null;
        return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw ApiException.BadRequest($"{name} is invalid");
    }

    /// <summary>One page of an ordered query, with the headers set.</summary>
    public static async Task<List<T>> PageAsync<T>(HttpContext context, IQueryable<T> ordered, CancellationToken cancellationToken)
    {
        var (page, perPage) = Read(context.Request);
        int total = await ordered.CountAsync(cancellationToken);
        var items = await ordered.Skip((page - 1) * perPage).Take(perPage).ToListAsync(cancellationToken);
        SetHeaders(context, page, perPage, total);
        return items;
    }

    /// <summary>One page of an in-memory list, with the headers set.</summary>
    public static List<T> Page<T>(HttpContext context, IReadOnlyList<T> all)
    {
        var (page, perPage) = Read(context.Request);
        SetHeaders(context, page, perPage, all.Count);
        return all.Skip((page - 1) * perPage).Take(perPage).ToList();
    }

    private static void SetHeaders(HttpContext context, int page, int perPage, int total)
    {
        int totalPages = Math.Max(1, (total + perPage - 1) / perPage);
        var headers = context.Response.Headers;
        headers["X-Page"] = page.ToString(CultureInfo.InvariantCulture);
        headers["X-Per-Page"] = perPage.ToString(CultureInfo.InvariantCulture);
        headers["X-Total"] = total.ToString(CultureInfo.InvariantCulture);
        headers["X-Total-Pages"] = totalPages.ToString(CultureInfo.InvariantCulture);
        headers["X-Next-Page"] = page < totalPages ? (page + 1).ToString(CultureInfo.InvariantCulture) : "";
        headers["X-Prev-Page"] = page > 1 && page <= totalPages + 1 ? (page - 1).ToString(CultureInfo.InvariantCulture) : "";
        var links = new List<string>();
        if (page > 1 && page <= totalPages + 1) links.Add($"<{Url(context.Request, page - 1, perPage)}>; rel=\"prev\"");
        if (page < totalPages) links.Add($"<{Url(context.Request, page + 1, perPage)}>; rel=\"next\"");
        links.Add($"<{Url(context.Request, 1, perPage)}>; rel=\"first\"");
        links.Add($"<{Url(context.Request, totalPages, perPage)}>; rel=\"last\"");
        headers["Link"] = string.Join(", ", links);
    }

    private static string Url(HttpRequest request, int page, int perPage)
    {
        var query = request.Query
            .Where(q => q.Key is not "page" and not "per_page" and not "private_token" and not "access_token")
            .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string?>(q.Key, v)))
            .Append(new("page", page.ToString(CultureInfo.InvariantCulture)))
            .Append(new("per_page", perPage.ToString(CultureInfo.InvariantCulture)));
        return QueryHelpers.AddQueryString($"{request.Scheme}://{request.Host}{request.PathBase.ToUriComponent()}{request.Path.ToUriComponent()}", query);
    }
}
