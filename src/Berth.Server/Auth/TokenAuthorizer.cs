using Berth.Auth;
using Berth.Auth.Tokens;
using Berth.Distribution;
using Berth.Server.Configuration;
using Berth.Server.Registry;
using Microsoft.Extensions.Options;

namespace Berth.Server.Auth;

/// <summary>
/// <c>Auth:Mode = token</c>: the <c>/v2</c> check point of the Docker token authentication spec. A request
/// carries a Bearer registry token (verified, then its <c>access</c> claim must grant the actions), or HTTP
/// Basic credentials (checked directly against the access policy, for curl users), or nothing (anonymous:
/// public pulls only). Refusals: <c>401 UNAUTHORIZED</c> with a <c>WWW-Authenticate: Bearer realm,service,scope</c>
/// challenge when better credentials could help, <c>403 DENIED</c> naming what is missing when the caller is
/// known and not allowed, <c>429</c> when sign-ins are rate-limited.
/// </summary>
public sealed class TokenAuthorizer(IOptions<BerthOptions> berth, IOptions<RegistryTokenOptions> tokenOptions) : IRegistryAuthorizer
{
    /// <inheritdoc/>
    public async ValueTask<AccessDecision> AuthorizeAsync(HttpContext context, RepositoryName? repository, RegistryActions actions, CancellationToken cancellationToken)
    {
        var services = context.RequestServices;
        var scope = ScopeFor(repository, actions);

        var bearer = BasicCredentials.ReadBearer(context.Request);
        if (bearer is not null)
        {
            VerifiedToken verified;
            try
            {
                verified = await services.GetRequiredService<RegistryTokenService>().VerifyAsync(bearer, cancellationToken);
            }
            catch (TokenRejectedException ex)
            {
                return Unauthorized(context, scope, ex.Message, "invalid_token");
            }
            if (verified.Principal.Kind == PrincipalKind.JobToken && !await services.GetRequiredService<Berth.Auth.Ci.CiJobService>().IsActiveAsync(verified.Principal.CredentialId, cancellationToken))
                return Unauthorized(context, scope, "the CI job token this registry token was issued for is no longer valid: the job finished or its token expired", "invalid_token");
            context.Items[BasicCredentials.PrincipalItem] = verified.Principal;
            context.Items[Observability.RequestTracking.TokenIdItem] = verified.TokenId;
            if (actions == RegistryActions.None) return AccessDecision.Allow;
            if (actions == RegistryActions.Catalog)
            {
                return verified.ActionsFor(TokenScope.RegistryType, "catalog").Contains("*")
                    ? AccessDecision.Allow
                    : Unauthorized(context, scope, "listing the catalog needs a token with the registry:catalog:* scope", "insufficient_scope");
            }
            var granted = verified.ActionsFor(TokenScope.RepositoryType, repository!.Value.Value);
            var missing = Missing(actions, granted);
            if (missing.Count == 0) return AccessDecision.Allow;
            if (!verified.Principal.IsAuthenticated)
            {
                // An anonymous token: signing in could help, so challenge (401) rather than deny (403).
                return Unauthorized(context, scope, $"authentication required to {string.Join(", ", missing)} {repository}", "insufficient_scope");
            }
            if (verified.Mentions(TokenScope.RepositoryType, repository.Value.Value))
            {
                var refused = await services.GetRequiredService<AccessPolicy>().GetRepositoryAccessAsync(verified.Principal, repository.Value, cancellationToken);
                return await UnknownNameAsync(services, repository.Value, actions, refused, cancellationToken)
                    ?? Denied(repository.Value, missing, verified.Principal, refused.Explanation);
            }
            return Unauthorized(context, scope, $"the token does not grant {string.Join(", ", missing)} on {repository}", "insufficient_scope");
        }

        var principal = Principal.Anonymous;
        var basic = BasicCredentials.Read(context.Request);
        if (basic is { } b)
        {
            var result = await services.GetRequiredService<CredentialValidator>().ValidateAsync(b.Username, b.Password, BasicCredentials.ClientAddress(context), cancellationToken);
            if (!result.Succeeded)
            {
                if (result.Failure == CredentialFailure.RateLimited)
                {
                    context.Response.Headers.RetryAfter = result.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    return new AccessDecision(false, new RegistryException(ErrorCode.TooManyRequests, result.Message, new { component = "rate limit" }));
                }
                return Unauthorized(context, scope, result.Message, null);
            }
            principal = result.Principal!;
        }
        context.Items[BasicCredentials.PrincipalItem] = principal;

        if (repository is null)
        {
            // The base endpoint and the catalog need a signed-in caller (clients discover the realm here).
            return principal.IsAuthenticated ? AccessDecision.Allow : Unauthorized(context, scope, "authentication required", null);
        }
        var access = await services.GetRequiredService<AccessPolicy>().GetRepositoryAccessAsync(principal, repository.Value, cancellationToken);
        var allowed = new HashSet<string>(StringComparer.Ordinal);
        if (access.Pull) allowed.Add("pull");
        if (access.Push) allowed.Add("push");
        if (access.Delete) allowed.Add("delete");
        var lacking = Missing(actions, allowed);
        if (lacking.Count == 0) return AccessDecision.Allow;
        return principal.IsAuthenticated
            ? await UnknownNameAsync(services, repository.Value, actions, access, cancellationToken) ?? Denied(repository.Value, lacking, principal, access.Explanation)
            : Unauthorized(context, scope, $"authentication required to {string.Join(", ", lacking)} {repository}", null);
    }

    /// <summary>Whether the principal of this request may pull <paramref name="repository"/> (catalog filtering).</summary>
    public async ValueTask<bool> CanListAsync(HttpContext context, RepositoryName repository, CancellationToken cancellationToken)
    {
        var principal = BasicCredentials.GetPrincipal(context);
        if (principal.IsAdmin) return true;
        var access = await context.RequestServices.GetRequiredService<AccessPolicy>().GetRepositoryAccessAsync(principal, repository, cancellationToken);
        return access.Pull;
    }

    private static List<string> Missing(RegistryActions actions, IReadOnlySet<string> granted)
    {
        var missing = new List<string>();
        bool all = granted.Contains("*");
        if (actions.HasFlag(RegistryActions.Pull) && !all && !granted.Contains("pull")) missing.Add("pull");
        if (actions.HasFlag(RegistryActions.Push) && !all && !granted.Contains("push")) missing.Add("push");
        if (actions.HasFlag(RegistryActions.Delete) && !all && !granted.Contains("delete")) missing.Add("delete");
        return missing;
    }

    private static string? ScopeFor(RepositoryName? repository, RegistryActions actions)
    {
        if (actions == RegistryActions.Catalog) return "registry:catalog:*";
        if (repository is null) return null;
        var list = new List<string>();
        if (actions.HasFlag(RegistryActions.Pull)) list.Add("pull");
        if (actions.HasFlag(RegistryActions.Push)) { list.Add("pull"); list.Add("push"); }
        if (actions.HasFlag(RegistryActions.Delete)) list.Add("delete");
        return $"repository:{repository}:{string.Join(',', list.Distinct())}";
    }

    private AccessDecision Unauthorized(HttpContext context, string? scope, string message, string? error)
    {
        var challenge = $"Bearer realm=\"{Realm(context)}\",service=\"{tokenOptions.Value.Service}\"";
        if (scope is not null) challenge += $",scope=\"{scope}\"";
        if (error is not null) challenge += $",error=\"{error}\"";
        return new AccessDecision(false,
            new RegistryException(ErrorCode.Unauthorized, message, new { component = "access policy", scope }),
            challenge);
    }

    /// <summary>
    /// A pull of a repository no project owns (never created, or its project was renamed, moved or deleted) answers
    /// NAME_UNKNOWN (404) to a signed-in caller: old names of renamed projects do not redirect (docs/cleanup-policies.md,
    /// "Rename and transfer"). Null when that is not the case.
    /// </summary>
    private static async Task<AccessDecision?> UnknownNameAsync(IServiceProvider services, RepositoryName repository, RegistryActions actions, RepositoryAccess access, CancellationToken cancellationToken)
    {
        if (access.Project is not null || actions != RegistryActions.Pull) return null;
        if (!await services.GetRequiredService<AccessPolicy>().IsRegistryEnabledAsync(cancellationToken)) return null;
        return new AccessDecision(false, new RegistryException(ErrorCode.NameUnknown,
            $"repository {repository} is not known to the registry: no project owns this name (a renamed or moved project's images answer only under the new name)",
            new { name = repository.Value }));
    }

    private static AccessDecision Denied(RepositoryName repository, List<string> missing, Principal principal, string why) =>
        new(false, new RegistryException(ErrorCode.Denied,
            $"requested access to the resource is denied: {principal.Name} may not {string.Join(", ", missing)} {repository}" + (why.Length > 0 ? $" ({why})" : ""),
            new { component = "access policy", repository = repository.Value, missing, reason = why }));

    private string Realm(HttpContext context)
    {
        var external = berth.Value.ExternalUrl;
        var origin = !string.IsNullOrEmpty(external) ? external.TrimEnd('/') : $"{context.Request.Scheme}://{context.Request.Host}";
        return origin + "/jwt/auth";
    }
}
