using Berth.Auth;
using Berth.Metadata;
using Berth.Server.Notifications;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace Berth.Server.ApiV4;

/// <summary>A project hook as the API shows it (the secret token is never shown).</summary>
internal sealed record ProjectHookJson(long Id, string Url, long ProjectId, bool ImagePushEvents, bool TagDeleteEvents, bool EnableSslVerification, DateTime CreatedAt,
    long PendingEvents, DateTime? LastSuccessAt, DateTime? LastFailureAt, string? LastError);

public static partial class ApiV4Endpoints
{
    /// <summary>Project hooks (GitLab's <c>/projects/:id/hooks</c>, Maintainer+) limited to registry events, and the
    /// administrators' view of every notification endpoint's delivery status.</summary>
    private static void MapHooks(RouteGroupBuilder api)
    {
        api.MapGet("/projects/{id}/hooks", ListHooksAsync);
        api.MapPost("/projects/{id}/hooks", CreateHookAsync);
        api.MapGet("/projects/{id}/hooks/{hookId:long}", GetHookAsync);
        api.MapPut("/projects/{id}/hooks/{hookId:long}", UpdateHookAsync);
        api.MapDelete("/projects/{id}/hooks/{hookId:long}", DeleteHookAsync);
        api.MapGet("/admin/notification_endpoints", Handler(ListNotificationEndpointsAsync));
    }

    private static async Task<IResult> ListHooksAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var hooks = await caller.Get<BerthDbContext>().ProjectHooks.Where(h => h.ProjectId == project.Id).OrderBy(h => h.Id).ToListAsync(caller.Aborted);
        var views = new List<ProjectHookJson>();
        foreach (var hook in hooks) views.Add(await HookViewAsync(caller, hook));
        return Ok(Pagination.Page(context, views));
    }

    private static async Task<IResult> GetHookAsync(HttpContext context, string id, long hookId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        return Ok(await HookViewAsync(caller, await FindHookAsync(caller, project.Id, hookId)));
    }

    private static async Task<IResult> CreateHookAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var p = await ParamsAsync(caller);
        var hook = new ProjectHookEntity
        {
            ProjectId = project.Id,
            Url = HookUrl(p.Required("url")),
            ImagePushEvents = p.Bool("image_push_events") ?? true,
            TagDeleteEvents = p.Bool("tag_delete_events") ?? true,
            EnableSslVerification = p.Bool("enable_ssl_verification") ?? true,
            ProtectedToken = ProtectToken(caller, p.String("token")),
            CreatedAt = DateTime.UtcNow,
        };
        var db = caller.Get<BerthDbContext>();
        db.ProjectHooks.Add(hook);
        await db.SaveChangesAsync(caller.Aborted);
        caller.Get<Berth.Server.Observability.Auditor>().Record("project_hook_created", project.FullPath, $"hook {hook.Id} to {NotificationStatus.WithoutQuery(hook.Url)}");
        return Created(await HookViewAsync(caller, hook));
    }

    private static async Task<IResult> UpdateHookAsync(HttpContext context, string id, long hookId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var hook = await FindHookAsync(caller, project.Id, hookId);
        var p = await ParamsAsync(caller);
        if (p.Has("url")) hook.Url = HookUrl(p.Required("url"));
        if (p.Bool("image_push_events") is { } push) hook.ImagePushEvents = push;
        if (p.Bool("tag_delete_events") is { } delete) hook.TagDeleteEvents = delete;
        if (p.Bool("enable_ssl_verification") is { } ssl) hook.EnableSslVerification = ssl;
        if (p.Has("token")) hook.ProtectedToken = ProtectToken(caller, p.String("token"));
        var db = caller.Get<BerthDbContext>();
        db.ProjectHooks.Update(hook);
        await db.SaveChangesAsync(caller.Aborted);
        caller.Get<Berth.Server.Observability.Auditor>().Record("project_hook_updated", project.FullPath, $"hook {hook.Id} to {NotificationStatus.WithoutQuery(hook.Url)}");
        return Ok(await HookViewAsync(caller, hook));
    }

    private static async Task<IResult> DeleteHookAsync(HttpContext context, string id, long hookId)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        var project = await caller.ProjectWithLevelAsync(id, AccessLevel.Maintainer);
        var hook = await FindHookAsync(caller, project.Id, hookId);
        var db = caller.Get<BerthDbContext>();
        var name = NotificationNames.ProjectHook(hook.Id);
        await db.ProjectHooks.Where(h => h.Id == hook.Id).ExecuteDeleteAsync(caller.Aborted);
        await db.NotificationEvents.Where(e => e.Endpoint == name).ExecuteDeleteAsync(caller.Aborted);
        await db.NotificationEndpoints.Where(e => e.Name == name).ExecuteDeleteAsync(caller.Aborted);
        caller.Get<Berth.Server.Observability.Auditor>().Record("project_hook_deleted", project.FullPath, $"hook {hook.Id}");
        return Results.NoContent();
    }

    private static async Task<IResult> ListNotificationEndpointsAsync(HttpContext context)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Read);
        caller.RequireAdmin();
        var list = await caller.Get<NotificationStatus>().ListAsync(caller.Aborted);
        return Ok(list);
    }

    private static async Task<ProjectHookEntity> FindHookAsync(ApiCaller caller, long projectId, long hookId) =>
        await caller.Get<BerthDbContext>().ProjectHooks.AsTracking().FirstOrDefaultAsync(h => h.Id == hookId && h.ProjectId == projectId, caller.Aborted)
        ?? throw ApiException.NotFound("Hook");

    private static async Task<ProjectHookJson> HookViewAsync(ApiCaller caller, ProjectHookEntity hook)
    {
        var db = caller.Get<BerthDbContext>();
        var name = NotificationNames.ProjectHook(hook.Id);
        var state = await db.NotificationEndpoints.FirstOrDefaultAsync(e => e.Name == name, caller.Aborted);
        long pending = await db.NotificationEvents.LongCountAsync(e => e.Endpoint == name, caller.Aborted);
        static DateTime? Utc(DateTime? t) => t is { } v ? DateTime.SpecifyKind(v, DateTimeKind.Utc) : null;
        return new ProjectHookJson(hook.Id, hook.Url, hook.ProjectId, hook.ImagePushEvents, hook.TagDeleteEvents, hook.EnableSslVerification,
            DateTime.SpecifyKind(hook.CreatedAt, DateTimeKind.Utc), pending, Utc(state?.LastSuccessAt), Utc(state?.LastFailureAt), state?.LastError);
    }

    private static string HookUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw ApiException.BadRequest("url is blocked: must be an absolute http:// or https:// URL");
        if (url.Length > 2048) throw ApiException.BadRequest("url is too long (at most 2048 characters)");
        return url;
    }

    private static string? ProtectToken(ApiCaller caller, string? token) =>
        string.IsNullOrEmpty(token) ? null : caller.Get<IDataProtectionProvider>().CreateProtector(NotificationWorker.TokenPurpose).Protect(token);
}
