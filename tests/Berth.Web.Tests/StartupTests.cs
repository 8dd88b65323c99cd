using System.Net;
using Berth.Metadata;
using Berth.Server.Web;
using Berth.Web.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Berth.Web.Tests;

/// <summary>
/// Start-up work the web UI leaves for later (docs/performance.md): the data-protection key ring is not loaded before
/// the server listens, and the first web request after a start still gets a working sign-in (its anti-forgery token
/// and cookie need the key ring, created then on a fresh database).
/// </summary>
public sealed class StartupTests : IClassFixture<InProcessFactory>
{
    private readonly InProcessFactory _app;

    public StartupTests(InProcessFactory app) => _app = app;

    [Fact]
    public async Task The_key_ring_is_made_on_the_first_web_request_and_sign_in_works()
    {
        // The name Berth removes is the one the framework registers (a rename in a framework update fails here,
        // instead of the eager load quietly coming back).
        var plain = new ServiceCollection();
        plain.AddDataProtection();
        Assert.Contains(plain, d => d.ServiceType == typeof(IHostedService) && d.ImplementationType?.FullName == WebUi.EagerKeyRingServiceName);

        // Starting the host runs every hosted service; the framework's eager key-ring loader is not among them.
        var hosted = _app.Services.GetServices<IHostedService>().Select(s => s.GetType().FullName).ToList();
        Assert.Contains(hosted, name => name == "Berth.Server.BerthInitializer");
        Assert.DoesNotContain(WebUi.EagerKeyRingServiceName, hosted);
        Assert.Equal(0, await KeyCountAsync());

        // A registry request does not need it either.
        using var client = _app.NewClient();
        using (var v2 = await client.GetAsync("/v2/"))
            Assert.Equal(HttpStatusCode.Unauthorized, v2.StatusCode);
        Assert.Equal(0, await KeyCountAsync());

        // The first web request: the sign-in form, then signing in with its anti-forgery token.
        using var signedIn = await _app.SignedInClientAsync("root", InProcessFactory.RootPassword);
        Assert.Equal(1, await KeyCountAsync());
        using var profile = await signedIn.GetAsync("/profile"); // signed-in users only: the cookie is read back
        Assert.Equal(HttpStatusCode.OK, profile.StatusCode);
        using var anonymous = await _app.NewClient().GetAsync("/profile");
        Assert.Equal(HttpStatusCode.Redirect, anonymous.StatusCode);
    }

    private Task<int> KeyCountAsync() =>
        _app.WithDbAsync(db => db.InstanceSettings.CountAsync(s => s.Key.StartsWith(DatabaseXmlRepository.KeyPrefix)));
}
