using Berth.Auth.Accounts;

namespace Berth.Server.ApiV4;

/// <summary>
/// The REST API under <c>/api/v4</c>, following GitLab's API for users, groups, projects, members, personal
/// access tokens and deploy tokens (docs/api.md), plus <c>POST /oauth/token</c> (password grant). Every answer
/// is JSON, errors too, in GitLab's shapes (see <see cref="ApiException"/>).
/// </summary>
public static partial class ApiV4Endpoints
{
    /// <summary>Maps <c>/api/v4/…</c> and <c>/oauth/token</c>.</summary>
    public static IEndpointRouteBuilder MapApiV4(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v4").AddEndpointFilter(HandleErrorsAsync).ExcludeFromDescription();
        MapUsers(api);
        MapGroups(api);
        MapProjects(api);
        MapMembers(api, "groups");
        MapMembers(api, "projects");
        MapTokens(api);
        MapNamespaces(api);
        MapRegistry(api);
        MapRegistryUsage(api);
        MapCi(app, api);
        MapHooks(api);
        api.Map("/{**path}", Handler(c => Task.FromResult(ApiException.Result(c, new { error = "404 Not Found" }, 404, "api"))));
        app.MapPost("/oauth/token", Handler(OAuthTokenAsync)).AddEndpointFilter(HandleErrorsAsync).ExcludeFromDescription().DisableAntiforgery();
        return app;
    }

    private static async ValueTask<object?> HandleErrorsAsync(EndpointFilterInvocationContext invocation, EndpointFilterDelegate next)
    {
        var context = invocation.HttpContext;
        try
        {
            return await next(invocation);
        }
        catch (ApiException ex)
        {
            return ApiException.Result(context, ex.Body, ex.Status);
        }
        catch (AccountException ex)
        {
            var api = ApiException.From(ex);
            return ApiException.Result(context, api.Body, api.Status);
        }
        catch (Berth.Server.Registry.TagRuleException ex)
        {
            return ApiException.Result(context, new { error = ex.Message }, 400);
        }
        catch (Berth.Distribution.RegistryException ex) when (ex.Code == Berth.Distribution.ErrorCode.Denied)
        {
            return ApiException.Result(context, new { message = "403 Forbidden - " + ex.Message }, 403, "access policy");
        }
        catch (BadHttpRequestException ex)
        {
            return ApiException.Result(context, new { error = ex.Message }, ex.StatusCode);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return Results.Empty;
        }
        catch (Exception ex) when (Berth.Server.Observability.ErrorComponents.IsDatabaseFailure(ex))
        {
            LogUnhandled(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Berth.ApiV4"), ex, context.Request.Method, context.Request.Path, context.TraceIdentifier);
            return ApiException.Result(context, new { message = $"503 Service Unavailable - the metadata database failed (request {context.TraceIdentifier})" }, 503, "database");
        }
        catch (Exception ex)
        {
            LogUnhandled(context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Berth.ApiV4"), ex, context.Request.Method, context.Request.Path, context.TraceIdentifier);
            return ApiException.Result(context, new { message = $"500 Internal Server Error (request {context.TraceIdentifier})" }, 500);
        }
    }

    [LoggerMessage(EventId = 3100, Level = LogLevel.Error, Message = "API request {Method} {Path} failed (request {RequestId})")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path, string requestId);

    /// <summary>Makes a handler that takes only the context a route handler (so its result is written), not a RequestDelegate.</summary>
    private static Delegate Handler(Func<HttpContext, Task<IResult>> handler) => handler;

    private static IResult Ok(object? value) => Results.Json(value, Representer.Json, "application/json");

    private static IResult Created(object? value) => Results.Json(value, Representer.Json, "application/json", statusCode: 201);

    private static IResult Accepted() => Results.Json(new { message = "202 Accepted" }, Representer.Json, "application/json", statusCode: 202);

    private static Representer Represent(ApiCaller caller) => new(caller.Context, caller.Get<Berth.Metadata.BerthDbContext>());

    private static Task<ApiParams> ParamsAsync(ApiCaller caller) => ApiParams.ReadAsync(caller.Context.Request, caller.Aborted);

    /// <summary>A time parameter (ISO 8601, or a date meaning its start, UTC), or null.</summary>
    private static DateTime? ReadTime(ApiParams p, string name)
    {
        var s = p.String(name);
        if (string.IsNullOrEmpty(s)) return null;
        if (System.DateTimeOffset.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t))
            return t.UtcDateTime;
        throw ApiException.BadRequest($"{name} is invalid");
    }

    private static DateTime? ReadDate(ApiParams p, string name) =>
        p.Date(name) is { } d ? AccessTokenService.ExpiryFromDate(d) : null;
}
