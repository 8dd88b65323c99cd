namespace Berth.Distribution.Tests;

public class TagTests
{
    public static TheoryData<string> ValidTags() => new()
    {
        "latest",
        "_x",
        "_",
        "x",
        "0",
        "v1.2.3-rc_1",
        "V1",
        "LATEST",
        "1.0",
        "a..b",
        "a--b",
        "x.",
        "x-",
        "sha256-" + new string('a', 64) + ".sig", // cosign-style tag
        new string('a', 128),
        "_" + new string('.', 127),
    };

    [Theory]
    [MemberData(nameof(ValidTags))]
    public void Valid_tags_parse(string text)
    {
        Assert.True(Tag.TryParse(text, out var tag));
        Assert.Equal(text, tag.Value);
        Assert.Equal(text, tag.ToString());
        Assert.Equal(tag, Tag.Parse(text));
    }

    public static TheoryData<string?> InvalidTags() => new()
    {
        null,
        "",
        " ",
        ".x",
        "-x",
        ".",
        "-",
        new string('a', 129),
        "a:b",
        "sha256:abc",
        "a/b",
        "/a",
        "a b",
        " latest",
        "latest ",
        "latest\n",
        "a@b",
        "a+b",
        "a\\b",
        "café",
        "ｌatest",
        "a\0",
    };

    [Theory]
    [MemberData(nameof(InvalidTags))]
    public void Invalid_tags_are_rejected(string? text)
    {
        Assert.False(Tag.TryParse(text, out var tag));
        Assert.Equal(string.Empty, tag.Value);
        if (text is not null) Assert.Throws<FormatException>(() => Tag.Parse(text));
    }

    [Fact]
    public void Equality_is_ordinal_and_case_sensitive()
    {
        Assert.Equal(Tag.Parse("latest"), Tag.Parse(string.Concat("lat", "est")));
        Assert.Equal(Tag.Parse("latest").GetHashCode(), Tag.Parse(string.Concat("lat", "est")).GetHashCode());
        Assert.NotEqual(Tag.Parse("latest"), Tag.Parse("Latest"));
        Assert.True(Tag.Parse("v1").Equals((object)Tag.Parse("v1")));
        Assert.False(Tag.Parse("v1").Equals("v1"));
    }

    [Fact]
    public void Default_is_empty()
    {
        Tag d = default;
        Assert.Equal(string.Empty, d.Value);
        Assert.Equal(0, d.GetHashCode());
    }
}
