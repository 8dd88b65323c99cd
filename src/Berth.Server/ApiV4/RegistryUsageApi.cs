using Berth.Auth.Accounts;
using Berth.Server.Registry;

namespace Berth.Server.ApiV4;

/// <summary>Deduplicated container registry storage of a project or group, as GitLab's <c>statistics</c> object
/// names it. Sizes in bytes.</summary>
/// <param name="StorageSize">Everything Berth stores for it: the registry blobs (equal to <paramref name="ContainerRegistrySize"/>).</param>
/// <param name="ContainerRegistrySize">Bytes of the distinct blobs its repositories may serve, each counted once.</param>
internal sealed record RegistryStatisticsJson(long StorageSize, long ContainerRegistrySize);

public static partial class ApiV4Endpoints
{
    /// <summary><c>PUT /namespaces/:id</c> (administrators): <c>container_registry_quota</c> in bytes sets the
    /// namespace's registry quota; <c>0</c> or an empty value removes it. Answers the namespace with its
    /// <c>container_registry_size</c> and <c>container_registry_quota</c>. See docs/quotas.md.</summary>
    private static void MapRegistryUsage(RouteGroupBuilder api)
    {
        api.MapPut("/namespaces/{id}", UpdateNamespaceQuotaAsync);
    }

    private static async Task<IResult> UpdateNamespaceQuotaAsync(HttpContext context, string id)
    {
        var caller = await ApiCaller.AuthenticateAsync(context, ApiAccess.Write);
        caller.RequireAdmin();
        var ns = await caller.Get<GroupService>().FindNamespaceAsync(Uri.UnescapeDataString(id), caller.Aborted)
            ?? throw ApiException.NotFound("Namespace");
        var p = await ParamsAsync(caller);
        if (p.String("container_registry_quota") is null) throw ApiException.BadRequest("container_registry_quota is missing");
        var quota = p.Long("container_registry_quota");
        if (quota < 0) throw ApiException.BadRequest("container_registry_quota must be a number of bytes, at least 0 (0 removes the quota)");
        var usage = caller.Get<RegistryUsage>();
        await usage.SetQuotaAsync(ns.Id, quota is null or 0 ? null : quota, caller.Aborted);
        return Ok(await NamespaceWithStorageAsync(caller, ns));
    }

    /// <summary>The namespace as <c>GET /namespaces/:id</c> shows it: with its registry usage and quota.</summary>
    private static async Task<NamespaceJson> NamespaceWithStorageAsync(ApiCaller caller, Berth.Metadata.NamespaceEntity ns)
    {
        var storage = await caller.Get<RegistryUsage>().GetNamespaceAsync(ns.Id, caller.Aborted);
        return Represent(caller).Namespace(ns) with
        {
            ContainerRegistrySize = storage?.Usage.Bytes ?? 0,
            ContainerRegistryQuota = storage?.QuotaBytes,
        };
    }

    /// <summary>The <c>statistics</c> object of a project or group (repositories named <paramref name="fullPath"/> or under it).</summary>
    private static async Task<RegistryStatisticsJson> RegistryStatisticsAsync(ApiCaller caller, string fullPath)
    {
        var usage = await caller.Get<RegistryUsage>().ForPathAsync(fullPath, caller.Aborted);
        return new RegistryStatisticsJson(usage.Bytes, usage.Bytes);
    }
}
