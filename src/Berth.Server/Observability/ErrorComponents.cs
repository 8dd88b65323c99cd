using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Distribution;

namespace Berth.Server.Observability;

/// <summary>
/// Names the part of Berth that refused a request, for the <c>detail.component</c> of every <c>/v2</c> and
/// <c>/jwt/auth</c> error: <c>token service</c>, <c>access policy</c>, <c>registry validation</c>, <c>storage</c>,
/// <c>database</c>, <c>rate limit</c>, <c>registry</c> (an unexpected failure). Also adds <c>requestId</c>.
/// </summary>
public static class ErrorComponents
{
    /// <summary>The component a code comes from when the thrower did not say.</summary>
    public static string DefaultFor(ErrorCode code) => code.Code switch
    {
        "UNAUTHORIZED" or "DENIED" => "access policy",
        "TOOMANYREQUESTS" => "rate limit",
        "UNAVAILABLE" => "storage",
        "UNKNOWN" => "registry",
        _ => "registry validation",
    };

    /// <summary>The error's detail as a JSON object with <c>component</c> (kept when present) and <c>requestId</c>;
    /// a non-object detail is kept under <c>value</c>.</summary>
    public static JsonObject Enrich(object? detail, ErrorCode code, string requestId, JsonSerializerOptions json)
    {
        var node = detail is null ? null : JsonSerializer.SerializeToNode(detail, detail.GetType(), json);
        var result = node as JsonObject ?? new JsonObject();
        if (node is not null and not JsonObject) result["value"] = node;
        if (result["component"] is null) result["component"] = DefaultFor(code);
        result["requestId"] = requestId;
        return result;
    }

    /// <summary>True for a failure of the metadata database (connection, command, update), not of Berth's logic.</summary>
    public static bool IsDatabaseFailure(Exception ex) =>
        ex is System.Data.Common.DbException or Microsoft.EntityFrameworkCore.DbUpdateException
        || ex.InnerException is System.Data.Common.DbException;
}
