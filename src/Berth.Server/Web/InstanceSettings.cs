using Berth.Auth;
using Berth.Metadata;
using Berth.Server.Configuration;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Berth.Server.Web;

/// <summary>The instance-wide switches an administrator changes in the admin area.</summary>
/// <param name="RegistryEnabled">The container registry of the whole instance (key <c>registry_enabled</c>, default on).</param>
/// <param name="SignUpEnabled">Whether people may create their own account (key <c>signup_enabled</c>, default off).</param>
/// <param name="ExternalUrl">The URL shown in instructions (key <c>external_url</c>); null: the <c>ExternalUrl</c>
/// setting, else the address the page was opened with.</param>
public sealed record InstanceSettingsValues(bool RegistryEnabled, bool SignUpEnabled, string? ExternalUrl);

/// <summary>
/// Reads and writes the <c>instance_settings</c> rows behind the admin area's switches. Values are text:
/// <c>true</c>/<c>false</c> for switches, an absolute http(s) URL for <c>external_url</c>.
/// </summary>
public sealed class InstanceSettings(BerthDbContext db, IOptions<BerthOptions> options, Berth.Server.Observability.Auditor audit)
{
    /// <summary>Key of the sign-up switch.</summary>
    public const string SignUpEnabledSetting = "signup_enabled";

    /// <summary>Key of the URL shown in instructions.</summary>
    public const string ExternalUrlSetting = "external_url";

    private static readonly string[] Keys = [AccessPolicy.RegistryEnabledSetting, SignUpEnabledSetting, ExternalUrlSetting];

    /// <summary>All switches in one query.</summary>
    public async Task<InstanceSettingsValues> GetAsync(CancellationToken cancellationToken)
    {
        var rows = await db.InstanceSettings.Where(s => Keys.Contains(s.Key)).ToDictionaryAsync(s => s.Key, s => s.Value, cancellationToken);
        bool registry = !rows.TryGetValue(AccessPolicy.RegistryEnabledSetting, out var r) || !string.Equals(r, "false", StringComparison.OrdinalIgnoreCase);
        bool signUp = rows.TryGetValue(SignUpEnabledSetting, out var s) && string.Equals(s, "true", StringComparison.OrdinalIgnoreCase);
        rows.TryGetValue(ExternalUrlSetting, out var url);
        return new InstanceSettingsValues(registry, signUp, string.IsNullOrWhiteSpace(url) ? null : url);
    }

    /// <summary>Stores all switches.</summary>
    /// <exception cref="ArgumentException">The external URL is not an absolute http(s) URL.</exception>
    public async Task SaveAsync(InstanceSettingsValues values, CancellationToken cancellationToken)
    {
        string url = "";
        if (!string.IsNullOrWhiteSpace(values.ExternalUrl))
        {
            if (!Uri.TryCreate(values.ExternalUrl.Trim(), UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https") || string.IsNullOrEmpty(parsed.Host))
                throw new ArgumentException("the external URL must be an absolute http:// or https:// URL, such as https://registry.example.com");
            url = parsed.GetLeftPart(UriPartial.Path).TrimEnd('/');
        }
        var before = await GetAsync(cancellationToken);
        await SetAsync(AccessPolicy.RegistryEnabledSetting, values.RegistryEnabled ? "true" : "false", cancellationToken);
        await SetAsync(SignUpEnabledSetting, values.SignUpEnabled ? "true" : "false", cancellationToken);
        await SetAsync(ExternalUrlSetting, url, cancellationToken);
        var changes = new List<string>();
        if (before.RegistryEnabled != values.RegistryEnabled) changes.Add($"container registry {(values.RegistryEnabled ? "on" : "off")}");
        if (before.SignUpEnabled != values.SignUpEnabled) changes.Add($"sign-up {(values.SignUpEnabled ? "on" : "off")}");
        if ((before.ExternalUrl ?? "") != url) changes.Add($"external URL {(url.Length == 0 ? "(none)" : url)}");
        if (changes.Count > 0) audit.Record("instance_settings_changed", "instance", string.Join(", ", changes));
    }

    /// <summary>
    /// The registry host people type (<c>registry.example.com</c>, <c>127.0.0.1:5000</c>): from the
    /// <c>external_url</c> setting, else the <c>ExternalUrl</c> option, else the request's host.
    /// </summary>
    public static string RegistryHost(InstanceSettingsValues values, BerthOptions options, HttpRequest request)
    {
        foreach (var candidate in new[] { values.ExternalUrl, options.ExternalUrl })
        {
            if (!string.IsNullOrWhiteSpace(candidate) && Uri.TryCreate(candidate, UriKind.Absolute, out var uri) && uri.Host.Length > 0)
                return uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}";
        }
        return request.Host.HasValue ? request.Host.Value : "localhost";
    }

    /// <summary>The host for instructions on the current request.</summary>
    public async Task<string> RegistryHostAsync(HttpRequest request, CancellationToken cancellationToken) =>
        RegistryHost(await GetAsync(cancellationToken), options.Value, request);

    /// <summary>The configured <c>ExternalUrl</c> option (for display).</summary>
    public string? ConfiguredExternalUrl => options.Value.ExternalUrl;

    private async Task SetAsync(string key, string value, CancellationToken cancellationToken)
    {
        int n = await db.InstanceSettings.Where(s => s.Key == key).ExecuteUpdateAsync(u => u.SetProperty(s => s.Value, value), cancellationToken);
        if (n > 0) return;
        try
        {
            db.InstanceSettings.Add(new InstanceSettingEntity { Key = key, Value = value });
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            db.ChangeTracker.Clear();
            await db.InstanceSettings.Where(s => s.Key == key).ExecuteUpdateAsync(u => u.SetProperty(s => s.Value, value), cancellationToken);
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }
}
