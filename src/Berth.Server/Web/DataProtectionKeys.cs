using System.Xml.Linq;
using Berth.Metadata;
using Microsoft.AspNetCore.DataProtection.Repositories;

namespace Berth.Server.Web;

/// <summary>
/// Keeps ASP.NET Core data-protection keys (they sign the sign-in cookie, the 2FA step and anti-forgery
/// tokens) in the metadata database, as <c>instance_settings</c> rows keyed <c>data_protection:&lt;name&gt;</c>,
/// so every replica and every restart reads the same key ring (DESIGN.md: nothing another replica needs lives
/// in one process's memory).
/// </summary>
public sealed class DatabaseXmlRepository(IServiceScopeFactory scopes) : IXmlRepository
{
    /// <summary>Prefix of the rows' keys.</summary>
    public const string KeyPrefix = "data_protection:";

    /// <inheritdoc/>
    public IReadOnlyCollection<XElement> GetAllElements()
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        return db.InstanceSettings.Where(s => s.Key.StartsWith(KeyPrefix)).Select(s => s.Value).ToList()
            .Select(XElement.Parse).ToList();
    }

    /// <inheritdoc/>
    public void StoreElement(XElement element, string friendlyName)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<BerthDbContext>();
        var key = KeyPrefix + (string.IsNullOrEmpty(friendlyName) ? Guid.NewGuid().ToString("N") : friendlyName);
        if (db.InstanceSettings.Any(s => s.Key == key)) return; // keys are immutable; another replica stored it first
        db.InstanceSettings.Add(new InstanceSettingEntity { Key = key, Value = element.ToString(SaveOptions.DisableFormatting) });
        try
        {
            db.SaveChanges();
        }
        catch (Microsoft.EntityFrameworkCore.DbUpdateException)
        {
            // stored concurrently by another replica
        }
    }
}
