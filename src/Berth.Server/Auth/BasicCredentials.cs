using System.Text;
using Berth.Auth;

namespace Berth.Server.Auth;

/// <summary>Reads HTTP Basic credentials (RFC 7617) from a request.</summary>
internal static class BasicCredentials
{
    /// <summary>The username and password of an <c>Authorization: Basic</c> header, or null.</summary>
    public static (string Username, string Password)? Read(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return null;
        try
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
            int colon = decoded.IndexOf(':');
            if (colon < 0) return null;
            return (decoded[..colon], decoded[(colon + 1)..]);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>The bearer token of an <c>Authorization: Bearer</c> header, or null.</summary>
    public static string? ReadBearer(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
    }

    /// <summary>The client's address for rate limiting.</summary>
    public static string? ClientAddress(HttpContext context) => context.Connection.RemoteIpAddress?.ToString();

    /// <summary>Key of <see cref="HttpContext.Items"/> holding the request's <see cref="Principal"/>.</summary>
    public const string PrincipalItem = "berth.principal";

    /// <summary>The principal the authorizer established for this request (anonymous when none).</summary>
    public static Principal GetPrincipal(HttpContext context) =>
        context.Items.TryGetValue(PrincipalItem, out var p) && p is Principal principal ? principal : Principal.Anonymous;
}
