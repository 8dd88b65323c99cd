using System.Text.Json;
using System.Text.RegularExpressions;
using Berth.Distribution;
using Berth.Server.Registry;
using Berth.Storage;

namespace Berth.Server.Api;

/// <summary>
/// The registry API under <c>/v2</c> (OCI Distribution Spec v1.1 and Docker Registry HTTP API v2). Repository
/// names contain slashes, so one catch-all endpoint parses the path from its end (<c>/manifests/…</c>,
/// <c>/blobs/uploads/…</c>, <c>/blobs/…</c>, <c>/tags/list</c>, <c>/referrers/…</c>), validates the name,
/// asks the authorizer once, then calls the resource's handler. Every error, thrown anywhere below, is
/// written here as the OCI error envelope.
/// </summary>
public static partial class V2Api
{
    /// <summary>The API version header every <c>/v2</c> response carries.</summary>
    public const string ApiVersionHeader = "Docker-Distribution-API-Version";

    /// <summary>Maps <c>/v2</c> and everything below it, for every HTTP method: a method a resource does not
    /// support (OPTIONS and unknown methods included) gets the 405 UNSUPPORTED envelope with <c>Allow</c> from
    /// the dispatcher, not the framework's bare 405.</summary>
    public static IEndpointRouteBuilder MapRegistryApi(this IEndpointRouteBuilder app)
    {
        app.Map("/v2", (RequestDelegate)DispatchAsync).ExcludeFromDescription();
        app.Map("/v2/{**path}", (RequestDelegate)DispatchAsync).ExcludeFromDescription();
        return app;
    }

    [GeneratedRegex("^(?<name>.+)/manifests/(?<ref>[^/]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex ManifestRoute();
    [GeneratedRegex("^(?<name>.+)/blobs/uploads(?:/(?<id>[^/]*))?$", RegexOptions.CultureInvariant)]
    private static partial Regex UploadRoute();
    [GeneratedRegex("^(?<name>.+)/blobs/(?<digest>[^/]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex BlobRoute();
    [GeneratedRegex("^(?<name>.+)/tags/list$", RegexOptions.CultureInvariant)]
    private static partial Regex TagsRoute();
    [GeneratedRegex("^(?<name>.+)/referrers/(?<digest>[^/]+)$", RegexOptions.CultureInvariant)]
    private static partial Regex ReferrersRoute();

    private static async Task DispatchAsync(HttpContext context)
    {
        var response = context.Response;
        response.Headers[ApiVersionHeader] = "registry/2.0";
        try
        {
            await RouteAsync(context);
        }
        catch (RegistryException ex)
        {
            await WriteErrorAsync(context, ex);
        }
        catch (StorageBackendException ex)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Berth.Registry")
                .LogError(ex, "Storage backend {Backend} failed during {Operation}; {Grant}", ex.Backend, ex.Operation,
                    ex.Grant is null ? "not a permission problem" : "grant " + ex.Grant + " (then check with 'berth doctor')");
            // The client learns that the storage backend refused and which operation; the permission to grant (it
            // names the bucket) is for the administrator, in the log and in 'berth doctor'.
            var what = ex.IsAccessDenied
                ? $"the storage backend ({ex.Backend}) refused {ex.Operation} (access denied): the registry's storage credentials lack a permission; an administrator can run 'berth doctor'"
                : $"the storage backend ({ex.Backend}) failed to {ex.Operation}";
            await WriteErrorAsync(context, new RegistryException(ErrorCode.Unavailable,
                $"{what}; see the server log for request {context.TraceIdentifier}",
                new { component = "storage", backend = ex.Backend, operation = ex.Operation, accessDenied = ex.IsAccessDenied, requestId = context.TraceIdentifier }));
        }
        catch (Exception ex) when (Observability.ErrorComponents.IsDatabaseFailure(ex) && !context.Response.HasStarted)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Berth.Registry")
                .LogError(ex, "Database failed on {Method} {Path}", context.Request.Method, context.Request.Path);
            await WriteErrorAsync(context, new RegistryException(ErrorCode.Unavailable,
                $"the metadata database failed; see the server log for request {context.TraceIdentifier}", new { component = "database" }));
        }
        catch (BadHttpRequestException ex)
        {
            // Body shorter than Content-Length, request too large, …
            await WriteErrorAsync(context, new RegistryException(ErrorCode.SizeInvalid, ex.Message, null, ex.StatusCode));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            // A bug or an unexpected failure: logged in full, answered as 500 UNKNOWN in the envelope without internals.
            // (Once the response has started, the exception propagates so the server aborts the truncated response.)
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Berth.Registry")
                .LogError(ex, "Unhandled error on {Method} {Path}", context.Request.Method, context.Request.Path);
            await WriteErrorAsync(context, new RegistryException(ErrorCode.Unknown,
                $"internal error; see the server log for request {context.TraceIdentifier}", new { requestId = context.TraceIdentifier }));
        }
    }

    private static async Task RouteAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/v2";
        var rest = path.Length <= 4 ? "" : path[4..].TrimStart('/');
        var method = context.Request.Method;
        var ct = context.RequestAborted;
        var authorizer = context.RequestServices.GetRequiredService<IRegistryAuthorizer>();

        if (rest.Length == 0)
        {
            context.Response.Headers[Hosting.BerthVersion.Header] = Hosting.BerthVersion.Current;
            RequireMethod(context, method, "GET", "HEAD");
            await AuthorizeAsync(context, authorizer, null, RegistryActions.None);
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = 2;
            if (!HttpMethods.IsHead(method)) await context.Response.WriteAsync("{}", ct);
            return;
        }
        if (rest == "_catalog")
        {
            RequireMethod(context, method, "GET");
            await AuthorizeAsync(context, authorizer, null, RegistryActions.Catalog);
            await ListingHandlers.CatalogAsync(context);
            return;
        }

        Match m;
        if ((m = ManifestRoute().Match(rest)).Success)
        {
            var name = ParseName(m);
            RequireMethod(context, method, "GET", "HEAD", "PUT", "DELETE");
            var reference = ParseReference(m.Groups["ref"].Value);
            await AuthorizeAsync(context, authorizer, name, ActionsFor(method));
            await (method switch
            {
                "GET" or "HEAD" => ManifestHandlers.GetAsync(context, name, reference),
                "PUT" => ManifestHandlers.PutAsync(context, name, reference),
                _ => ManifestHandlers.DeleteAsync(context, name, reference),
            });
            return;
        }
        if ((m = UploadRoute().Match(rest)).Success)
        {
            var name = ParseName(m);
            var idText = m.Groups["id"].Value;
            if (idText.Length == 0)
            {
                RequireMethod(context, method, "POST");
                await AuthorizeAsync(context, authorizer, name, RegistryActions.Push);
                await UploadHandlers.StartAsync(context, name);
                return;
            }
            RequireMethod(context, method, "GET", "PATCH", "PUT", "DELETE");
            if (!Guid.TryParseExact(idText, "N", out var id) && !Guid.TryParseExact(idText, "D", out id))
                throw new RegistryException(ErrorCode.BlobUploadUnknown, $"'{Truncate(idText)}' is not an upload session id");
            await AuthorizeAsync(context, authorizer, name, RegistryActions.Push);
            await (method switch
            {
                "GET" => UploadHandlers.StatusAsync(context, name, id),
                "PATCH" => UploadHandlers.PatchAsync(context, name, id),
                "PUT" => UploadHandlers.PutAsync(context, name, id),
                _ => UploadHandlers.CancelAsync(context, name, id),
            });
            return;
        }
        if ((m = BlobRoute().Match(rest)).Success)
        {
            var name = ParseName(m);
            RequireMethod(context, method, "GET", "HEAD", "DELETE");
            var digest = ParseDigest(m.Groups["digest"].Value);
            await AuthorizeAsync(context, authorizer, name, ActionsFor(method));
            await (method == "DELETE" ? BlobHandlers.DeleteAsync(context, name, digest) : BlobHandlers.GetAsync(context, name, digest));
            return;
        }
        if ((m = TagsRoute().Match(rest)).Success)
        {
            var name = ParseName(m);
            RequireMethod(context, method, "GET");
            await AuthorizeAsync(context, authorizer, name, RegistryActions.Pull);
            await ListingHandlers.TagsAsync(context, name);
            return;
        }
        if ((m = ReferrersRoute().Match(rest)).Success)
        {
            var name = ParseName(m);
            RequireMethod(context, method, "GET");
            var digest = ParseDigest(m.Groups["digest"].Value);
            await AuthorizeAsync(context, authorizer, name, RegistryActions.Pull);
            await ListingHandlers.ReferrersAsync(context, name, digest);
            return;
        }
        throw new RegistryException(ErrorCode.Unsupported, $"no registry endpoint at {Truncate(path)}", new { path = Truncate(path) }, 404);
    }

    private static RegistryActions ActionsFor(string method) => method switch
    {
        "GET" or "HEAD" => RegistryActions.Pull,
        "DELETE" => RegistryActions.Delete,
        _ => RegistryActions.Push,
    };

    /// <summary>Asks the authorizer and throws its refusal.</summary>
    internal static async Task AuthorizeAsync(HttpContext context, IRegistryAuthorizer authorizer, RepositoryName? name, RegistryActions actions)
    {
        var decision = await authorizer.AuthorizeAsync(context, name, actions, context.RequestAborted);
        if (decision.Allowed) return;
        if (decision.Challenge is not null) context.Response.Headers.WWWAuthenticate = decision.Challenge;
        throw decision.Error ?? new RegistryException(ErrorCode.Denied);
    }

    private static void RequireMethod(HttpContext context, string method, params string[] allowed)
    {
        if (allowed.Contains(method)) return;
        context.Response.Headers.Allow = string.Join(", ", allowed);
        throw new RegistryException(ErrorCode.Unsupported, $"{method} is not supported here; allowed: {string.Join(", ", allowed)}", new { allowed });
    }

    private static RepositoryName ParseName(Match m)
    {
        var text = m.Groups["name"].Value;
        if (!RepositoryName.TryParse(text, out var name, out var reason))
            throw new RegistryException(ErrorCode.NameInvalid, reason, new { name = Truncate(text) });
        return name;
    }

    private static Reference ParseReference(string text)
    {
        if (Reference.TryParse(text, out var reference, out bool looksLikeDigest)) return reference;
        throw looksLikeDigest
            ? new RegistryException(ErrorCode.DigestInvalid, $"'{Truncate(text)}' is not a valid digest (sha256:<64 hex> or sha512:<128 hex>)", new { digest = Truncate(text) })
            : new RegistryException(ErrorCode.TagInvalid, $"'{Truncate(text)}' is not a valid tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}})", new { tag = Truncate(text) });
    }

    /// <summary>Parses a digest from a URL or query, answering DIGEST_INVALID when it is not one.</summary>
    internal static Digest ParseDigest(string? text)
    {
        if (Digest.TryParse(text, out var digest)) return digest;
        throw new RegistryException(ErrorCode.DigestInvalid, $"'{Truncate(text)}' is not a valid digest (sha256:<64 hex> or sha512:<128 hex>)", new { digest = Truncate(text) });
    }

    internal static string Truncate(string? text) => text is null ? "" : text.Length > 300 ? text[..300] + "…" : text;

    /// <summary>Writes the OCI error envelope <c>{"errors":[{"code","message","detail"}]}</c> (headers only for HEAD).</summary>
    public static async Task WriteErrorAsync(HttpContext context, RegistryException error)
    {
        var response = context.Response;
        if (response.HasStarted) return;
        response.StatusCode = error.Status;
        response.Headers[ApiVersionHeader] = "registry/2.0";
        var detail = Observability.ErrorComponents.Enrich(error.Detail, error.Code, context.TraceIdentifier, ErrorJson);
        var body = JsonSerializer.SerializeToUtf8Bytes(new ErrorEnvelope([new ErrorBody(error.Code.Code, error.Message, detail)]), ErrorJson);
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method)) await response.Body.WriteAsync(body, context.RequestAborted);
    }

    private static readonly JsonSerializerOptions ErrorJson = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private sealed record ErrorEnvelope(IReadOnlyList<ErrorBody> Errors);
    private sealed record ErrorBody(string Code, string Message, object? Detail);
}
