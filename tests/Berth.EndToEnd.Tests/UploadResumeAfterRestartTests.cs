using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Berth.EndToEnd.Tests.Infrastructure;

namespace Berth.EndToEnd.Tests;

/// <summary>
/// A chunked blob upload started with plain HTTP survives a server restart (same data directory
/// and port): the second chunk, the final PUT and the GET work against the new process.
/// </summary>
[Collection(RestartableRegistryCollection.Name)]
public sealed class UploadResumeAfterRestartTests(RegistryServerFixture server, ITestOutputHelper output)
{
    private const int FirstChunkSize = 3 * 1024 * 1024 + 17;
    private const int SecondChunkSize = 2 * 1024 * 1024 + 5;

    [Fact]
    public Task Chunked_upload_resumes_after_a_graceful_restart() => UploadAcrossRestartAsync(graceful: true);

    [Fact]
    public Task Chunked_upload_resumes_after_the_server_is_killed() => UploadAcrossRestartAsync(graceful: false);

    private async Task UploadAcrossRestartAsync(bool graceful)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var cancellationToken = timeout.Token;
        var blob = RandomNumberGenerator.GetBytes(FirstChunkSize + SecondChunkSize);
        var digest = Digests.Sha256(blob);
        var repository = server.NewRepository("resume");

        Uri location;
        using (var client = server.CreateHttpClient())
        {
            using var start = await client.PostAsync($"v2/{repository}/blobs/uploads/", content: null, cancellationToken);
            await ExpectAsync(start, HttpStatusCode.Accepted, "POST upload");
            location = LocationOf(start);

            using var first = await PatchAsync(client, location, blob, 0, FirstChunkSize, cancellationToken);
            await ExpectAsync(first, HttpStatusCode.Accepted, "PATCH first chunk");
            Assert.Equal($"0-{FirstChunkSize - 1}", RangeOf(first));
            location = LocationOf(first);
        }

        var generation = server.Generation;
        await server.RestartAsync(graceful, cancellationToken);
        Assert.Equal(generation + 1, server.Generation);
        output.WriteLine($"restarted ({(graceful ? "SIGTERM" : "SIGKILL")}), resuming at {location}");

        using (var client = server.CreateHttpClient())
        {
            // A resuming client first asks where the session stands.
            using var status = await client.GetAsync(location, cancellationToken);
            await ExpectAsync(status, HttpStatusCode.NoContent, "GET upload status after restart");
            Assert.Equal($"0-{FirstChunkSize - 1}", RangeOf(status));

            using var second = await PatchAsync(client, location, blob, FirstChunkSize, SecondChunkSize, cancellationToken);
            await ExpectAsync(second, HttpStatusCode.Accepted, "PATCH second chunk after restart");
            Assert.Equal($"0-{blob.Length - 1}", RangeOf(second));
            location = LocationOf(second);

            var separator = location.OriginalString.Contains('?', StringComparison.Ordinal) ? "&" : "?";
            var finish = new Uri(location.OriginalString + separator + "digest=" + Uri.EscapeDataString(digest), UriKind.RelativeOrAbsolute);
            using var put = await client.PutAsync(finish, new ByteArrayContent([]), cancellationToken);
            await ExpectAsync(put, HttpStatusCode.Created, "PUT ?digest= to finish");
            Assert.Equal(digest, put.Headers.GetValues("Docker-Content-Digest").Single());

            using var get = await client.GetAsync($"v2/{repository}/blobs/{digest}", cancellationToken);
            await ExpectAsync(get, HttpStatusCode.OK, "GET blob");
            var downloaded = await get.Content.ReadAsByteArrayAsync(cancellationToken);
            Assert.Equal(blob.Length, downloaded.Length);
            Assert.True(blob.AsSpan().SequenceEqual(downloaded), "downloaded bytes differ from the uploaded ones");
        }
    }

    private static async Task<HttpResponseMessage> PatchAsync(HttpClient client, Uri location, byte[] blob, int offset, int count, CancellationToken cancellationToken)
    {
        var content = new ByteArrayContent(blob, offset, count);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        // The distribution spec's Content-Range for chunks is "<start>-<end>" (inclusive), without a unit.
        content.Headers.TryAddWithoutValidation("Content-Range", $"{offset}-{offset + count - 1}");
        using var request = new HttpRequestMessage(HttpMethod.Patch, location) { Content = content };
        return await client.SendAsync(request, cancellationToken);
    }

    private async Task ExpectAsync(HttpResponseMessage response, HttpStatusCode expected, string step)
    {
        if (response.StatusCode != expected)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.Fail($"{step}: expected {(int)expected}, got {(int)response.StatusCode} {response.ReasonPhrase}\n" +
                        $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}\n{response.Headers}\n{body}\n{server.ServerLogTail()}");
        }
    }

    private static Uri LocationOf(HttpResponseMessage response) =>
        response.Headers.Location ?? throw new InvalidOperationException($"no Location header in {(int)response.StatusCode} response");

    private static string RangeOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Range", out var values) ? values.Single() : throw new InvalidOperationException("no Range header");
}
