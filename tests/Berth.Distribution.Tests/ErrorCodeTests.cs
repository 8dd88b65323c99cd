namespace Berth.Distribution.Tests;

public class ErrorCodeTests
{
    [Theory]
    [InlineData("BLOB_UNKNOWN", 404)]
    [InlineData("BLOB_UPLOAD_INVALID", 400)]
    [InlineData("BLOB_UPLOAD_UNKNOWN", 404)]
    [InlineData("DIGEST_INVALID", 400)]
    [InlineData("MANIFEST_BLOB_UNKNOWN", 400)]
    [InlineData("MANIFEST_INVALID", 400)]
    [InlineData("MANIFEST_UNKNOWN", 404)]
    [InlineData("NAME_INVALID", 400)]
    [InlineData("NAME_UNKNOWN", 404)]
    [InlineData("SIZE_INVALID", 400)]
    [InlineData("TAG_INVALID", 400)]
    [InlineData("UNAUTHORIZED", 401)]
    [InlineData("DENIED", 403)]
    [InlineData("UNSUPPORTED", 405)]
    [InlineData("TOOMANYREQUESTS", 429)]
    [InlineData("RANGE_INVALID", 416)]
    [InlineData("UNKNOWN", 500)]
    public void Documented_codes_have_documented_statuses(string code, int status)
    {
        var entry = Assert.Single(ErrorCode.All, e => e.Code == code);
        Assert.Equal(status, entry.Status);
        Assert.False(string.IsNullOrWhiteSpace(entry.Message));
    }

    public static TheoryData<ErrorCode, string, int> NamedFields() => new()
    {
        { ErrorCode.BlobUnknown, "BLOB_UNKNOWN", 404 },
        { ErrorCode.BlobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", 404 },
        { ErrorCode.DigestInvalid, "DIGEST_INVALID", 400 },
        { ErrorCode.ManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", 400 },
        { ErrorCode.ManifestInvalid, "MANIFEST_INVALID", 400 },
        { ErrorCode.ManifestUnknown, "MANIFEST_UNKNOWN", 404 },
        { ErrorCode.NameInvalid, "NAME_INVALID", 400 },
        { ErrorCode.NameUnknown, "NAME_UNKNOWN", 404 },
        { ErrorCode.SizeInvalid, "SIZE_INVALID", 400 },
        { ErrorCode.TagInvalid, "TAG_INVALID", 400 },
        { ErrorCode.Unauthorized, "UNAUTHORIZED", 401 },
        { ErrorCode.Denied, "DENIED", 403 },
        { ErrorCode.Unsupported, "UNSUPPORTED", 405 },
        { ErrorCode.TooManyRequests, "TOOMANYREQUESTS", 429 },
        { ErrorCode.RangeInvalid, "RANGE_INVALID", 416 },
        { ErrorCode.Unknown, "UNKNOWN", 500 },
    };

    [Theory]
    [MemberData(nameof(NamedFields))]
    public void Named_fields_carry_their_code_and_status(ErrorCode entry, string code, int status)
    {
        Assert.Equal(code, entry.Code);
        Assert.Equal(status, entry.Status);
        Assert.Contains(entry, ErrorCode.All);
    }

    [Fact]
    public void Every_code_is_unique_and_well_formed()
    {
        Assert.Equal(ErrorCode.All.Count, ErrorCode.All.Select(e => e.Code).Distinct(StringComparer.Ordinal).Count());
        foreach (var e in ErrorCode.All)
        {
            Assert.Matches("^[A-Z][A-Z_]*[A-Z]$", e.Code);
            Assert.InRange(e.Status, 400, 599);
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
        }
    }

    [Fact]
    public void All_lists_every_public_static_field()
    {
        var fields = typeof(ErrorCode).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.FieldType == typeof(ErrorCode))
            .Select(f => (ErrorCode)f.GetValue(null)!)
            .ToList();
        Assert.NotEmpty(fields);
        Assert.Equal(fields.Count, ErrorCode.All.Count);
        foreach (var f in fields) Assert.Contains(f, ErrorCode.All);
    }

    [Fact]
    public void RegistryException_defaults_to_the_code_status_and_message()
    {
        var ex = new RegistryException(ErrorCode.BlobUnknown);
        Assert.Same(ErrorCode.BlobUnknown, ex.Code);
        Assert.Equal(404, ex.Status);
        Assert.Equal(ErrorCode.BlobUnknown.Message, ex.Message);
        Assert.Null(ex.Detail);
    }

    [Fact]
    public void RegistryException_keeps_message_and_detail()
    {
        var detail = new { digest = "sha256:abc" };
        var ex = new RegistryException(ErrorCode.DigestInvalid, "digest mismatch", detail);
        Assert.Equal("digest mismatch", ex.Message);
        Assert.Same(detail, ex.Detail);
        Assert.Equal(400, ex.Status);
    }

    [Theory]
    [InlineData(413)]
    [InlineData(404)]
    [InlineData(503)]
    public void RegistryException_status_can_be_overridden(int status)
    {
        var ex = new RegistryException(ErrorCode.ManifestInvalid, "manifest too large", status: status);
        Assert.Equal(status, ex.Status);
        Assert.Equal(400, ex.Code.Status);
        Assert.Same(ErrorCode.ManifestInvalid, ex.Code);
    }
}
