using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Berth.Auth;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Berth.Observability.Tests;

public sealed class AuditTests
{
    [Fact]
    public async Task Audited_actions_are_listed_for_admins()
    {
        using var factory = new ObsFactory();
        var root = await factory.WithDbAsync((db, _) => db.Users.SingleAsync(u => u.Username == "root"));
        var bob = await factory.AddUserAsync("bob", "bob-password-1");
        var group = await factory.AddGroupAsync("audit");
        var project = await factory.AddProjectAsync(group, "app", "private");
        var adminPat = await factory.AddPersonalAccessTokenAsync(root, "api");
        var bobPat = await factory.AddPersonalAccessTokenAsync(bob, "api");
        var client = factory.CreateClient();

        var (_, token, _, _) = await factory.RequestTokenAsync("root", ObsFactory.RootPassword, "repository:audit/app:pull,push,delete");
        await factory.RequestTokenAsync("bob", "not-bobs-password");
        await Registry.PushAsync(client, "audit/app", "v1", token!);
        using (var delete = Registry.Request(HttpMethod.Delete, "/v2/audit/app/manifests/v1", token, "audit-delete"))
        using (var deleted = await client.SendAsync(delete))
            Assert.True((int)deleted.StatusCode == 202, await deleted.Content.ReadAsStringAsync());

        using (var create = new HttpRequestMessage(HttpMethod.Post, $"/api/v4/users/{root.Id}/personal_access_tokens"))
        {
            create.Headers.Add("PRIVATE-TOKEN", adminPat);
            create.Content = JsonContent.Create(new { name = "ci", scopes = new[] { "read_registry" } });
            using var created = await client.SendAsync(create);
            var body = await created.Content.ReadAsStringAsync();
            Assert.True((int)created.StatusCode == 201, body);
            var id = JsonDocument.Parse(body).RootElement.GetProperty("id").GetInt64();
            using var revoke = new HttpRequestMessage(HttpMethod.Delete, $"/api/v4/personal_access_tokens/{id}");
            revoke.Headers.Add("PRIVATE-TOKEN", adminPat);
            using var revoked = await client.SendAsync(revoke);
            Assert.True((int)revoked.StatusCode < 300, await revoked.Content.ReadAsStringAsync());
        }
        using (var member = new HttpRequestMessage(HttpMethod.Post, $"/api/v4/projects/{project.Id}/members"))
        {
            member.Headers.Add("PRIVATE-TOKEN", adminPat);
            member.Content = JsonContent.Create(new { user_id = bob.Id, access_level = 30 });
            using var added = await client.SendAsync(member);
            Assert.True((int)added.StatusCode == 201, await added.Content.ReadAsStringAsync());
        }

        // Project settings (registry switch), a user's permissions, a deploy token, through the API.
        foreach (var (method, path, body, status) in new (HttpMethod, string, object?, int)[]
        {
            (HttpMethod.Put, $"/api/v4/projects/{project.Id}", new { container_registry_enabled = false }, 200),
            (HttpMethod.Put, $"/api/v4/projects/{project.Id}", new { container_registry_enabled = true }, 200),
            (HttpMethod.Post, $"/api/v4/users/{bob.Id}/block", null, 201),
            (HttpMethod.Post, $"/api/v4/users/{bob.Id}/unblock", null, 201),
            (HttpMethod.Post, $"/api/v4/projects/{project.Id}/deploy_tokens", new { name = "deployer", scopes = new[] { "read_registry" } }, 201),
            (HttpMethod.Post, $"/api/v4/projects/{project.Id}/hooks", new { url = "http://127.0.0.1:9/hook" }, 201),
        })
        {
            using var request = new HttpRequestMessage(method, path);
            request.Headers.Add("PRIVATE-TOKEN", adminPat);
            if (body is not null) request.Content = JsonContent.Create(body);
            using var response = await client.SendAsync(request);
            Assert.True((int)response.StatusCode == status, $"{method} {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        // 2FA on and off, the instance's switches, a whole repository: the services the web UI and the workers call.
        await factory.WithDbAsync(async (_, sp) =>
        {
            using var scope = sp.CreateScope();
            var accounts = scope.ServiceProvider.GetRequiredService<Berth.Auth.Accounts.AccountService>();
            await accounts.EnableTwoFactorAsync(bob.Id, CancellationToken.None);
            await accounts.DisableTwoFactorAsync(bob.Id, CancellationToken.None);
            var settings = scope.ServiceProvider.GetRequiredService<Berth.Server.Web.InstanceSettings>();
            await settings.SaveAsync(new Berth.Server.Web.InstanceSettingsValues(true, true, null), CancellationToken.None);
            await Registry.PushAsync(client, "audit/app", "v2", token!);
            Assert.True(await scope.ServiceProvider.GetRequiredService<Berth.Server.Registry.RegistryService>()
                .DeleteRepositoryAsync(Berth.Distribution.RepositoryName.Parse("audit/app"), CancellationToken.None));
            return true;
        });

        string[] expected = ["sign_in", "sign_in_failed", "tag_deleted", "token_created", "token_revoked", "membership_changed",
            "project_settings_changed", "permission_changed", "project_hook_created", "two_factor_enabled", "two_factor_disabled",
            "instance_settings_changed", "repository_deleted"];
        List<JsonElement> events = [];
        for (int attempt = 0; attempt < 50; attempt++)
        {
            using var list = new HttpRequestMessage(HttpMethod.Get, "/api/v4/audit_events?per_page=100");
            list.Headers.Add("PRIVATE-TOKEN", adminPat);
            using var response = await client.SendAsync(list);
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.IsSuccessStatusCode, body);
            Assert.NotNull(response.Headers.GetValues("X-Total").SingleOrDefault());
            events = JsonDocument.Parse(body).RootElement.EnumerateArray().Select(e => e.Clone()).ToList();
            if (expected.All(a => events.Any(e => e.GetProperty("action").GetString() == a))) break;
            await Task.Delay(100);
        }
        foreach (var action in expected)
            Assert.True(events.Any(e => e.GetProperty("action").GetString() == action), $"no {action} in {string.Join(", ", events.Select(e => e.GetProperty("action").GetString()))}");
        var tagDeleted = events.First(e => e.GetProperty("action").GetString() == "tag_deleted");
        Assert.Equal("root", tagDeleted.GetProperty("author").GetString());
        Assert.Equal("audit/app:v1", tagDeleted.GetProperty("target").GetString());
        Assert.Equal("audit-delete", tagDeleted.GetProperty("request_id").GetString());
        Assert.Equal("bob", events.First(e => e.GetProperty("action").GetString() == "sign_in_failed").GetProperty("author").GetString());
        Assert.DoesNotContain("not-bobs-password", JsonSerializer.Serialize(events));
        var settingsChanged = events.First(e => e.GetProperty("action").GetString() == "project_settings_changed");
        Assert.Equal("root", settingsChanged.GetProperty("author").GetString());
        Assert.Contains("RegistryEnabled", settingsChanged.GetProperty("details").GetString());
        Assert.Equal("bob", events.First(e => e.GetProperty("action").GetString() == "two_factor_enabled").GetProperty("target").GetString());
        Assert.Equal("audit/app", events.First(e => e.GetProperty("action").GetString() == "repository_deleted").GetProperty("target").GetString());

        // Not for non-admins.
        using var forbidden = new HttpRequestMessage(HttpMethod.Get, "/api/v4/audit_events");
        forbidden.Headers.Add("PRIVATE-TOKEN", bobPat);
        using var refused = await client.SendAsync(forbidden);
        Assert.Equal(403, (int)refused.StatusCode);
        Assert.Contains("403 Forbidden", await refused.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_personal_access_token_asking_for_tokens_in_a_loop_is_audited_once_a_minute_and_every_token_is_logged()
    {
        var clock = new TestClock();
        var factory = new ObsFactory { Clock = clock, KeepDataDir = true };
        var jtis = new List<string>();
        try
        {
            var bob = await factory.AddUserAsync("patloop", "patloop-password-1");
            var group = await factory.AddGroupAsync("patgroup");
            var project = await factory.AddProjectAsync(group, "app", "private");
            await factory.WithDbAsync(async (db, _) =>
            {
                db.Members.Add(new Berth.Metadata.MemberEntity { ProjectId = project.Id, UserId = bob.Id, AccessLevel = 30, CreatedAt = DateTime.UtcNow });
                return await db.SaveChangesAsync();
            });
            var pat = await factory.AddPersonalAccessTokenAsync(bob, "read_registry write_registry");

            async Task AskAsync()
            {
                var (status, token, granted, body) = await factory.RequestTokenAsync("patloop", pat, "repository:patgroup/app:pull,push");
                Assert.True(status == 200, body);
                Assert.Equal(new[] { "pull", "push" }, granted["repository:patgroup/app"]);
                jtis.Add(ObsFactory.DecodePayload(token!).GetProperty("jti").GetString()!);
            }

            for (int i = 0; i < 3; i++) await AskAsync(); // first use audited, the next two within the minute not
            clock.Advance(TimeSpan.FromMinutes(2));
            await AskAsync(); // a minute later: audited again
            // A password sign-in after them: once its audit row is written, so are the rows queued before it.
            var (passwordStatus, _, _, passwordBody) = await factory.RequestTokenAsync("patloop", "patloop-password-1", "repository:patgroup/app:pull");
            Assert.True(passwordStatus == 200, passwordBody);

            List<string> details = [];
            for (int attempt = 0; attempt < 100; attempt++)
            {
                details = await factory.WithDbAsync((db, _) => db.AuditEvents.Where(e => e.Action == "sign_in" && e.Actor == "patloop").Select(e => e.Details).ToListAsync());
                if (details.Any(d => d.Contains("via password", StringComparison.Ordinal))) break;
                await Task.Delay(50);
            }
            Assert.Single(details, d => d.Contains("via password", StringComparison.Ordinal));
            Assert.Equal(2, details.Count(d => d.Contains("via personal_access_token", StringComparison.Ordinal)));
        }
        finally
        {
            factory.Dispose(); // flushes the file logger
        }
        try
        {
            // Every token has its one issuance line (asked vs granted, with its jti), audited or not.
            var lines = File.ReadAllLines(factory.LogFile).Select(l => JsonDocument.Parse(l).RootElement.Clone())
                .Where(l => l.GetProperty("category").GetString() == "Berth.TokenService").Select(l => l.GetProperty("message").GetString()!).ToList();
            foreach (var jti in jtis)
            {
                var line = Assert.Single(lines, l => l.Contains(jti, StringComparison.Ordinal));
                Assert.Contains("asked repository:patgroup/app:pull,push granted repository:patgroup/app:pull,push", line, StringComparison.Ordinal);
            }
        }
        finally
        {
            try { Directory.Delete(factory.DataDir, true); } catch (IOException) { }
        }
    }
}
