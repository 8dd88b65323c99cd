using Berth.Auth;
using Berth.Auth.Accounts;
using Berth.Metadata;

namespace Berth.Server.ApiV4;

public static partial class ApiV4Endpoints
{
    private static void MapTokens(RouteGroupBuilder api)
    {
        api.MapGet("/personal_access_tokens", Handler(ListPersonalAccessTokensAsync));
        api.MapGet("/personal_access_tokens/self", Handler(GetOwnTokenAsync));
        api.MapGet("/personal_access_tokens/{id:long}", GetPersonalAccessTokenAsync);
        api.MapPost("/personal_access_tokens", Handler(c => CreatePersonalAccessTokenAsync(c, null)));
        api.MapPost("/user/personal_access_tokens", Handler(c => CreatePersonalAccessTokenAsync(c, null)));
        api.MapPost("/users/{id:long}/personal_access_tokens", (HttpContext c, long id) => CreatePersonalAccessTokenAsync(c, id));
        api.MapDelete("/personal_access_tokens/self", Handler(RevokeOwnTokenAsync));
        api.MapDelete("/personal_access_tokens/{id:long}", RevokePersonalAccessTokenAsync);
    }

    private static async Task<IResult> ListPersonalAccessTokensAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var p = await ParamsAsync(caller);
        long? userId = caller.IsAdmin ? p.Long("user_id") : caller.UserId;
        var service = caller.Get<AccessTokenService>();
        IEnumerable<PersonalAccessTokenEntity> tokens = await service.ListPersonalAccessTokensAsync(userId, caller.Aborted);
        if (p.String("state") is { Length: > 0 } state)
            tokens = tokens.Where(t => service.IsActive(t) == (state == "active"));
        if (p.Bool("revoked") is { } revoked) tokens = tokens.Where(t => t.Revoked == revoked);
        if (p.String("search") is { Length: > 0 } search) tokens = tokens.Where(t => t.Name.Contains(search, StringComparison.OrdinalIgnoreCase));
        var page = Pagination.Page(context, tokens.ToList());
        return Ok(page.Select(t => Representer.Token(t, service.IsActive(t))));
    }

    private static async Task<IResult> GetOwnTokenAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var service = caller.Get<AccessTokenService>();
        var token = await service.GetPersonalAccessTokenAsync(caller.Principal.CredentialId ?? throw ApiException.Unauthorized(), caller.Aborted);
        return Ok(Representer.Token(token, service.IsActive(token)));
    }

    private static async Task<PersonalAccessTokenEntity> VisibleTokenAsync(ApiCaller caller, long id)
    {
        var token = await caller.Get<AccessTokenService>().GetPersonalAccessTokenAsync(id, caller.Aborted);
        if (!caller.IsAdmin && token.UserId != caller.UserId) throw ApiException.NotFound("Personal Access Token");
        return token;
    }

    private static async Task<IResult> GetPersonalAccessTokenAsync(HttpContext context, long id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var token = await VisibleTokenAsync(caller, id);
        return Ok(Representer.Token(token, caller.Get<AccessTokenService>().IsActive(token)));
    }

    private static async Task<IResult> CreatePersonalAccessTokenAsync(HttpContext context, long? forUser)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        if (forUser is not null && forUser != caller.UserId) caller.RequireAdmin();
        var p = await ParamsAsync(caller);
        var userId = forUser ?? caller.UserId;
        var created = await caller.Get<AccessTokenService>().CreatePersonalAccessTokenAsync(
            userId, p.Required("name"), p.List("scopes"), ReadDate(p, "expires_at"), caller.Aborted);
        return Created(Representer.Token(created.Entity, true, created.Secret));
    }

    private static async Task<IResult> RevokeOwnTokenAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        await caller.Get<AccessTokenService>().RevokePersonalAccessTokenAsync(caller.Principal.CredentialId ?? throw ApiException.Unauthorized(), caller.Aborted);
        return Results.NoContent();
    }

    private static async Task<IResult> RevokePersonalAccessTokenAsync(HttpContext context, long id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var token = await VisibleTokenAsync(caller, id);
        await caller.Get<AccessTokenService>().RevokePersonalAccessTokenAsync(token.Id, caller.Aborted);
        return Results.NoContent();
    }
}
