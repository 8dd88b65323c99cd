namespace Berth.Server.Hosting;

/// <summary>
/// The origin (<c>scheme://host[:port]</c>) clients reach Berth at, from <c>ExternalUrl</c>. Registry clients
/// address <c>/v2/</c> at the root of a host (no path prefix), so the URL has no path.
/// </summary>
public static class PublicOrigin
{
    /// <summary>Parses and checks an external URL: absolute, <c>http</c> or <c>https</c>, no path, query, fragment or user info.</summary>
    /// <param name="text">The configured value.</param>
    /// <param name="origin">The normalized URL (no trailing slash, default port omitted).</param>
    /// <param name="problem">Why it was refused.</param>
    public static bool TryParse(string? text, out Uri origin, out string problem)
    {
        origin = null!;
        problem = "";
        if (!Uri.TryCreate(text?.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            problem = "it must be an absolute http:// or https:// URL, like https://registry.example.com";
            return false;
        }
        if (uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
        {
            problem = "it must be an origin without path, query or user info (registry clients expect /v2/ at the root of the host)";
            return false;
        }
        origin = new Uri(uri.GetLeftPart(UriPartial.Authority));
        return true;
    }

    /// <summary>The host clients put in image names and <c>certs.d</c> folder names: <c>host</c>, or <c>host:port</c> for a non-default port.</summary>
    public static string RegistryHost(Uri origin) => origin.IsDefaultPort ? origin.Host : $"{origin.Host}:{origin.Port}";
}
