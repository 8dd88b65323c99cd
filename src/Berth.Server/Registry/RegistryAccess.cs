using Berth.Distribution;
using Berth.Server.Configuration;
using Microsoft.Extensions.Options;

namespace Berth.Server.Registry;

/// <summary>Actions on a repository, as in the Docker token scope <c>repository:&lt;name&gt;:pull,push,delete</c>.</summary>
[Flags]
public enum RegistryActions
{
    /// <summary>No action (the <c>/v2/</c> base check).</summary>
    None = 0,
    /// <summary>Read manifests, blobs, tags, referrers.</summary>
    Pull = 1,
    /// <summary>Upload blobs, push manifests and tags.</summary>
    Push = 2,
    /// <summary>Delete manifests, tags, blobs.</summary>
    Delete = 4,
    /// <summary>List the catalog (<c>registry:catalog:*</c>).</summary>
    Catalog = 8,
}

/// <summary>The outcome of an access check; a refusal carries the error to answer with (UNAUTHORIZED with a
/// challenge, or DENIED naming what is missing).</summary>
public sealed record AccessDecision(bool Allowed, RegistryException? Error = null, string? Challenge = null)
{
    /// <summary>Access granted.</summary>
    public static AccessDecision Allow { get; } = new(true);
}

/// <summary>
/// The one authorization check point of the <c>/v2</c> API: every request asks it once with its repository
/// and actions before any handler runs (a mount asks again for pull on the source repository).
/// </summary>
public interface IRegistryAuthorizer
{
    /// <summary>Decides whether the caller may perform <paramref name="actions"/> on <paramref name="repository"/>
    /// (null repository: the base endpoint or the catalog).</summary>
    ValueTask<AccessDecision> AuthorizeAsync(HttpContext context, RepositoryName? repository, RegistryActions actions, CancellationToken cancellationToken);

    /// <summary>Whether the caller of an authorized catalog request may see <paramref name="repository"/> in
    /// the listing (the catalog is filtered to what the caller may pull). Default: everything.</summary>
    ValueTask<bool> CanListAsync(HttpContext context, RepositoryName repository, CancellationToken cancellationToken) => ValueTask.FromResult(true);
}

/// <summary><c>Auth:Mode = none</c>: everyone may do everything (development setting).</summary>
public sealed class AnonymousAuthorizer(IOptions<AuthOptions> options) : IRegistryAuthorizer
{
    /// <inheritdoc/>
    public ValueTask<AccessDecision> AuthorizeAsync(HttpContext context, RepositoryName? repository, RegistryActions actions, CancellationToken cancellationToken)
    {
        _ = options;
        return ValueTask.FromResult(AccessDecision.Allow);
    }
}
