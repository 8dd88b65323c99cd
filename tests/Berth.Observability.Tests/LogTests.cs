using System.Text;
using System.Text.Json;
using Berth.Auth;

namespace Berth.Observability.Tests;

/// <summary>The log file after a full sign-in + push + pull flow: no secret in it, and the token request and the
/// registry requests of one push joined by request ids and the token's jti.</summary>
public sealed class LogTests
{
    [Fact]
    public async Task Log_file_has_no_secrets_and_joins_token_and_push_requests()
    {
        const string password = "pushy-Secret-Password-9371";
        const string wrongPassword = "wrong-Secret-Guess-5512";
        string pat, token, jti, logText;
        List<JsonElement> lines;
        var factory = new ObsFactory(new(), null) { KeepDataDir = true };
        try
        {
            var user = await factory.AddUserAsync("pushy", password);
            var group = await factory.AddGroupAsync("logs");
            var project = await factory.AddProjectAsync(group, "app", "private");
            await factory.AddMemberAsync(user, AccessLevel.Developer, project: project);
            pat = await factory.AddPersonalAccessTokenAsync(user, "read_registry write_registry");
            var client = factory.CreateClient();

            using (var tokenRequest = new HttpRequestMessage(HttpMethod.Get, "/jwt/auth?service=container_registry&scope=repository:logs/app:pull,push"))
            {
                tokenRequest.Headers.Authorization = ObsFactory.Basic("pushy", password);
                tokenRequest.Headers.Add("X-Request-Id", "corr-token-1");
                using var response = await client.SendAsync(tokenRequest);
                var body = await response.Content.ReadAsStringAsync();
                Assert.True(response.IsSuccessStatusCode, body);
                token = JsonDocument.Parse(body).RootElement.GetProperty("token").GetString()!;
                jti = ObsFactory.DecodePayload(token).GetProperty("jti").GetString()!;
            }
            await Registry.PushAsync(client, "logs/app", "v1", token, "corr-push-1");

            using (var failed = new HttpRequestMessage(HttpMethod.Get, "/jwt/auth?service=container_registry"))
            {
                failed.Headers.Authorization = ObsFactory.Basic("pushy", wrongPassword);
                using var response = await client.SendAsync(failed);
                Assert.Equal(401, (int)response.StatusCode);
            }
            var (status, patToken, _, _) = await factory.RequestTokenAsync("pushy", pat, "repository:logs/app:pull");
            Assert.Equal(200, status);
            using (var basicPull = new HttpRequestMessage(HttpMethod.Get, "/v2/logs/app/tags/list"))
            {
                basicPull.Headers.Authorization = ObsFactory.Basic("pushy", pat);
                using var response = await client.SendAsync(basicPull);
                Assert.Equal(200, (int)response.StatusCode);
            }
            using (var oauth = new HttpRequestMessage(HttpMethod.Post, "/jwt/auth"))
            {
                oauth.Content = new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["grant_type"] = "password", ["username"] = "pushy", ["password"] = password, ["service"] = "container_registry",
                    ["scope"] = "repository:logs/app:pull", ["access_type"] = "offline",
                });
                using var response = await client.SendAsync(oauth);
                Assert.Equal(200, (int)response.StatusCode);
            }
            factory.Dispose(); // flushes the file logger
            logText = string.Concat(Directory.GetFiles(Path.GetDirectoryName(factory.LogFile)!).Select(File.ReadAllText));
            lines = logText.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

            string[] secrets =
            [
                password, wrongPassword, pat, token, token.Split('.')[2], patToken!, patToken!.Split('.')[2],
                Convert.ToBase64String(Encoding.UTF8.GetBytes("pushy:" + password)),
                Convert.ToBase64String(Encoding.UTF8.GetBytes("pushy:" + pat)),
                ObsFactory.RootPassword, "Bearer ey", "Basic cHVzaHk",
            ];
            foreach (var secret in secrets) Assert.DoesNotContain(secret, logText, StringComparison.Ordinal);
        }
        finally
        {
            factory.Dispose();
            try { Directory.Delete(factory.DataDir, true); } catch (IOException) { }
        }

        static string? RequestId(JsonElement line) => line.GetProperty("scopes").TryGetProperty("RequestId", out var id) ? id.GetString() : null;
        static string Message(JsonElement line) => line.GetProperty("message").GetString()!;

        // The token request: its issuance line names the jti, under the request's id.
        Assert.Contains(lines, l => RequestId(l) == "corr-token-1" && l.GetProperty("category").GetString() == "Berth.TokenService" && Message(l).Contains(jti));
        // The registry requests of the push: access lines under their id carrying the same jti.
        var pushLines = lines.Where(l => RequestId(l) == "corr-push-1" && l.GetProperty("category").GetString() == "Berth.Access").ToList();
        Assert.True(pushLines.Count >= 7, logText);
        Assert.All(pushLines, l => Assert.Equal(jti, l.GetProperty("state").GetProperty("TokenId").GetString()));
        Assert.Contains(pushLines, l => l.GetProperty("state").GetProperty("Method").GetString() == "PUT"
            && l.GetProperty("state").GetProperty("Repository").GetString() == "logs/app"
            && l.GetProperty("state").GetProperty("Digest").GetString()!.StartsWith("sha256:", StringComparison.Ordinal)
            && l.GetProperty("state").GetProperty("User").GetString() == "pushy");
        // Bytes in: the 4 KiB layer PATCH (the upload path reads the request's PipeReader) and the manifest PUT (read
        // as a stream) are both counted.
        static string State(JsonElement line, string name) => line.GetProperty("state").GetProperty(name).ToString();
        Assert.Contains(pushLines, l => State(l, "Method") == "PATCH" && State(l, "BytesIn") == "4096");
        Assert.Contains(pushLines, l => State(l, "Method") == "PUT" && State(l, "Path").Contains("/manifests/", StringComparison.Ordinal)
            && long.Parse(State(l, "BytesIn"), System.Globalization.CultureInfo.InvariantCulture) > 100);
        // Auth events: the failed sign-in with its reason.
        Assert.Contains(lines, l => Message(l).Contains("Sign-in refused for pushy", StringComparison.Ordinal));
    }
}
