using System.Text.Json;
using System.Text.Json.Nodes;
using Berth.Auth.Accounts;

namespace Berth.Server.ApiV4;

/// <summary>
/// An API refusal with GitLab's status and JSON body, e.g. 401 <c>{"message":"401 Unauthorized"}</c>,
/// 403 <c>{"message":"403 Forbidden"}</c>, 404 <c>{"message":"404 Project Not Found"}</c>,
/// 400 <c>{"error":"name is missing"}</c>. Thrown by handlers, written by <see cref="ApiV4Endpoints"/>.
/// </summary>
public sealed class ApiException(int status, object body) : Exception($"{status}")
{
    /// <summary>HTTP status.</summary>
    public int Status { get; } = status;

    /// <summary>JSON body.</summary>
    public object Body { get; } = body;

    /// <summary>401 <c>{"message":"401 Unauthorized"}</c>.</summary>
    public static ApiException Unauthorized() => new(401, new { message = "401 Unauthorized" });

    /// <summary>403 <c>{"message":"403 Forbidden"}</c>, with an optional reason appended GitLab style (<c>403 Forbidden - …</c>).</summary>
    public static ApiException Forbidden(string? why = null) => new(403, new { message = why is null ? "403 Forbidden" : "403 Forbidden - " + why });

    /// <summary>403 for a token whose scopes do not cover the request (GitLab's OAuth-style body).</summary>
    public static ApiException InsufficientScope(string neededScopes) => new(403, new
    {
        error = "insufficient_scope",
        error_description = "The request requires higher privileges than provided by the access token.",
        scope = neededScopes,
    });

    /// <summary>404 <c>{"message":"404 &lt;what&gt; Not Found"}</c>.</summary>
    public static ApiException NotFound(string what) => new(404, new { message = $"404 {what} Not Found" });

    /// <summary>400 <c>{"error":"…"}</c> (a missing or malformed parameter).</summary>
    public static ApiException BadRequest(string error) => new(400, new { error });

    /// <summary>
    /// Writes an error body: GitLab's JSON shape (<paramref name="body"/>) plus <c>component</c> (the part of Berth
    /// that refused: <c>access policy</c> for 401/403, <c>rate limit</c> for 429, <c>database</c> for 503,
    /// <c>api</c> for 500, <c>api validation</c> otherwise, unless given) and <c>request_id</c> (the
    /// <c>X-Request-Id</c> of the request, to find its log lines).
    /// </summary>
    public static IResult Result(HttpContext context, object body, int status, string? component = null)
    {
        var node = JsonSerializer.SerializeToNode(body, body.GetType(), Representer.Json) as JsonObject ?? new JsonObject { ["message"] = JsonSerializer.SerializeToNode(body, body.GetType(), Representer.Json) };
        node["component"] ??= component ?? status switch
        {
            401 or 403 => "access policy",
            429 => "rate limit",
            503 => "database",
            >= 500 => "api",
            _ => "api validation",
        };
        node["request_id"] = context.TraceIdentifier;
        return Results.Json(node, Representer.Json, "application/json", statusCode: status);
    }

    /// <summary>Maps an <see cref="AccountException"/> onto GitLab's status and body.</summary>
    public static ApiException From(AccountException ex) => ex.Kind switch
    {
        AccountErrorKind.NotFound => new(404, new { message = "404 " + ex.Message }),
        AccountErrorKind.Forbidden => Forbidden(ex.Message),
        AccountErrorKind.Conflict => new(409, new { message = ex.Message }),
        _ when ex.Field is null || ex.Message.Contains(" is missing", StringComparison.Ordinal) => BadRequest(ex.Message),
        _ => new(400, new { message = new Dictionary<string, string[]> { [ex.Field] = [ex.Message] } }),
    };
}
