using Microsoft.AspNetCore.Mvc;

namespace Berth.Server.Web.Pages.Admin;

/// <summary><c>/admin/settings</c>: the instance's registry and sign-up switches and the external URL shown in instructions.</summary>
public sealed class AdminSettingsModel : WebPage
{
    /// <summary>Current values.</summary>
    public InstanceSettingsValues Values { get; private set; } = new(true, false, null);
    /// <summary>The <c>ExternalUrl</c> option, when set.</summary>
    public string? ConfiguredExternalUrl { get; private set; }
    /// <summary>The host instructions show now.</summary>
    public string ShownHost { get; private set; } = "";

    /// <summary>GET.</summary>
    public Task OnGetAsync() => LoadAsync();

    /// <summary>POST: saves and confirms.</summary>
    public async Task<IActionResult> OnPostAsync(bool registryEnabled, bool signUpEnabled, string? externalUrl)
    {
        var values = new InstanceSettingsValues(registryEnabled, signUpEnabled, externalUrl);
        try
        {
            await Service<InstanceSettings>().SaveAsync(values, Aborted);
            Flash($"Instance settings were saved: container registry {(registryEnabled ? "on" : "off")}, sign-up {(signUpEnabled ? "on" : "off")}.");
            return LocalRedirect("/admin/settings");
        }
        catch (ArgumentException ex)
        {
            Error = ex.Message;
            await LoadAsync();
            Values = values;
            return Page();
        }
    }

    private async Task LoadAsync()
    {
        var settings = Service<InstanceSettings>();
        Values = await settings.GetAsync(Aborted);
        ConfiguredExternalUrl = settings.ConfiguredExternalUrl;
        ShownHost = await settings.RegistryHostAsync(Request, Aborted);
    }
}
