using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.ApiV4;

public static partial class ApiV4Endpoints
{
    private static void MapUsers(RouteGroupBuilder api)
    {
        api.MapGet("/user", Handler(GetCurrentUserAsync));
        api.MapGet("/users", Handler(ListUsersAsync));
        api.MapPost("/users", Handler(CreateUserAsync));
        api.MapGet("/users/{id:long}", GetUserAsync);
        api.MapPut("/users/{id:long}", UpdateUserAsync);
        api.MapPost("/users/{id:long}/block", (HttpContext c, long id) => SetBlockedAsync(c, id, true));
        api.MapPost("/users/{id:long}/unblock", (HttpContext c, long id) => SetBlockedAsync(c, id, false));
    }

    private static async Task<IResult> GetCurrentUserAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var user = await caller.Get<AccountService>().GetUserAsync(caller.UserId, caller.Aborted);
        return Ok(await Represent(caller).UserAsync(user, caller.Aborted));
    }

    private static async Task<IResult> ListUsersAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var p = await ParamsAsync(caller);
        var username = p.String("username");
        var search = p.String("search");
        if (!caller.IsAdmin && string.IsNullOrEmpty(username) && string.IsNullOrEmpty(search))
            throw ApiException.Forbidden("listing all users needs an administrator; filter with username= or search=");
        IQueryable<UserEntity> query = caller.Get<BerthDbContext>().Users;
        if (!string.IsNullOrEmpty(username))
        {
            var normalized = username.ToLowerInvariant();
            query = query.Where(u => u.NormalizedUsername == normalized);
        }
        if (!string.IsNullOrEmpty(search))
        {
            var s = search.ToLowerInvariant();
            query = query.Where(u => u.NormalizedUsername.Contains(s) || u.Name.ToLower().Contains(s) || (caller.IsAdmin && u.Email.ToLower().Contains(s)));
        }
        if (p.Bool("blocked") == true) query = query.Where(u => u.IsBlocked);
        if (p.Bool("active") == true) query = query.Where(u => !u.IsBlocked);
        if (caller.IsAdmin && p.Bool("admins") == true) query = query.Where(u => u.IsAdmin);
        var sortAscending = string.Equals(p.String("sort"), "asc", StringComparison.OrdinalIgnoreCase);
        query = p.String("order_by") switch
        {
            "username" => sortAscending ? query.OrderBy(u => u.NormalizedUsername) : query.OrderByDescending(u => u.NormalizedUsername),
            "name" => sortAscending ? query.OrderBy(u => u.Name) : query.OrderByDescending(u => u.Name),
            _ => sortAscending ? query.OrderBy(u => u.Id) : query.OrderByDescending(u => u.Id),
        };
        var page = await Pagination.PageAsync(context, query, caller.Aborted);
        var represent = Represent(caller);
        if (!caller.IsAdmin) return Ok(page.Select(represent.UserBasic));
        var full = new List<UserJson>(page.Count);
        foreach (var u in page) full.Add(await represent.UserAsync(u, caller.Aborted));
        return Ok(full);
    }

    private static async Task<IResult> CreateUserAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        caller.RequireAdmin();
        var p = await ParamsAsync(caller);
        var password = p.String("password");
        if (string.IsNullOrEmpty(password))
        {
            if (p.Bool("force_random_password") == true || p.Bool("reset_password") == true) password = Berth.Auth.SecretTokens.RandomString(32);
            else throw ApiException.BadRequest("password, reset_password, force_random_password are missing, exactly one parameter must be provided");
        }
        var user = await caller.Get<AccountService>().CreateUserAsync(
            new NewUser(p.Required("username"), p.Required("email"), p.Required("name"), password, p.Bool("admin") ?? false), caller.Aborted);
        return Created(await Represent(caller).UserAsync(user, caller.Aborted));
    }

    private static async Task<IResult> GetUserAsync(HttpContext context, long id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var user = await caller.Get<AccountService>().GetUserAsync(id, caller.Aborted);
        var represent = Represent(caller);
        return caller.IsAdmin || caller.UserId == id ? Ok(await represent.UserAsync(user, caller.Aborted)) : Ok(represent.UserBasic(user));
    }

    private static async Task<IResult> UpdateUserAsync(HttpContext context, long id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        caller.RequireAdmin();
        var p = await ParamsAsync(caller);
        var accounts = caller.Get<AccountService>();
        var existing = await accounts.GetUserAsync(id, caller.Aborted);
        if (p.String("username") is { } newName && !string.Equals(newName, existing.Username, StringComparison.Ordinal))
            throw ApiException.BadRequest("changing a username is not supported");
        await accounts.UpdateProfileAsync(id, p.String("name"), p.String("email"), caller.Aborted);
        if (p.String("password") is { Length: > 0 } password) await accounts.SetPasswordAsync(id, password, caller.Aborted);
        if (p.Bool("admin") is { } admin)
        {
            if (!admin && id == caller.UserId) throw ApiException.Forbidden("you cannot remove your own administrator rights");
            await accounts.SetAdminAsync(id, admin, caller.Aborted);
        }
        var user = await accounts.GetUserAsync(id, caller.Aborted);
        return Ok(await Represent(caller).UserAsync(user, caller.Aborted));
    }

    private static async Task<IResult> SetBlockedAsync(HttpContext context, long id, bool blocked)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        caller.RequireAdmin();
        if (blocked && id == caller.UserId) throw ApiException.Forbidden("you cannot block yourself");
        await caller.Get<AccountService>().SetBlockedAsync(id, blocked, caller.Aborted);
        return Created(true);
    }
}
