namespace Berth.Distribution.Tests;

public class ReferenceTests
{
    private const string Sha = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    [Theory]
    [InlineData("latest")]
    [InlineData("v1.2.3-rc_1")]
    [InlineData("_x")]
    [InlineData("sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.sig")]
    public void Tags_parse_as_tags(string text)
    {
        Assert.True(Reference.TryParse(text, out var reference, out var looksLikeDigest));
        Assert.False(looksLikeDigest);
        Assert.False(reference.IsDigest);
        Assert.True(reference.Digest.IsEmpty);
        Assert.Equal(text, reference.Tag.Value);
        Assert.Equal(text, reference.ToString());
    }

    [Theory]
    [InlineData(Sha)]
    [InlineData("sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")]
    public void Digests_parse_as_digests(string text)
    {
        Assert.True(Reference.TryParse(text, out var reference, out var looksLikeDigest));
        Assert.True(looksLikeDigest);
        Assert.True(reference.IsDigest);
        Assert.Equal(Digest.Parse(text), reference.Digest);
        Assert.Equal(string.Empty, reference.Tag.Value);
        Assert.Equal(text, reference.ToString());
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData(".x", false)]
    [InlineData("-x", false)]
    [InlineData("a/b", false)]
    [InlineData("a b", false)]
    [InlineData("sha256", false)] // a fine tag, see below; here only as a looksLikeDigest check
    [InlineData("a:b", true)]
    [InlineData(":", true)]
    [InlineData("sha256:", true)]
    [InlineData("sha256:abc", true)]
    [InlineData("sha256:../../etc", true)]
    [InlineData("SHA256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", true)]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e", true)]
    public void LooksLikeDigest_is_set_by_the_colon(string? text, bool expectedLooksLikeDigest)
    {
        bool ok = Reference.TryParse(text, out var reference, out var looksLikeDigest);
        Assert.Equal(expectedLooksLikeDigest, looksLikeDigest);
        if (text == "sha256")
        {
            Assert.True(ok);
            Assert.False(reference.IsDigest);
        }
        else
        {
            Assert.False(ok);
            Assert.False(reference.IsDigest);
            Assert.Equal(string.Empty, reference.ToString());
        }
    }

    [Fact]
    public void Too_long_tag_is_refused_as_a_tag()
    {
        Assert.False(Reference.TryParse(new string('a', 129), out _, out var looksLikeDigest));
        Assert.False(looksLikeDigest);
    }

    [Fact]
    public void Factories_build_the_right_kind()
    {
        var fromTag = Reference.FromTag(Tag.Parse("v1"));
        Assert.False(fromTag.IsDigest);
        Assert.Equal("v1", fromTag.ToString());

        var fromDigest = Reference.FromDigest(Digest.Parse(Sha));
        Assert.True(fromDigest.IsDigest);
        Assert.Equal(Sha, fromDigest.ToString());
    }
}
