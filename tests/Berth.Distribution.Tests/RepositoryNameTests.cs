namespace Berth.Distribution.Tests;

public class RepositoryNameTests
{
    public static TheoryData<string> ValidNames() => new()
    {
        "a",
        "0",
        "ab",
        "library/ubuntu",
        "group/project",
        "group/sub/project/image",
        "a/b/c/d/e/f/g/h",
        "a.b_c__d---e",
        "a.b",
        "a_b",
        "a__b",
        "a-b",
        "a--------b",
        "a-b.c_d__e/f.g",
        "123/456",
        "my-group/my.project/my_image",
        new string('a', 255),
        string.Join('/', Enumerable.Repeat("ab", 85)), // 85*2 + 84 = 254
        new string('a', 127) + "/" + new string('b', 127),
    };

    [Theory]
    [MemberData(nameof(ValidNames))]
    public void Valid_names_parse(string text)
    {
        Assert.True(RepositoryName.TryParse(text, out var name, out var reason), reason);
        Assert.Null(reason);
        Assert.Equal(text, name.Value);
        Assert.Equal(text, name.ToString());
        Assert.Equal(text.Split('/'), name.Components);
        Assert.Equal(name, RepositoryName.Parse(text));
    }

    public static TheoryData<string?> InvalidNames() => new()
    {
        null,
        "",
        " ",
        "A",
        "Library/ubuntu",
        "library/Ubuntu",
        "aB",
        "/a",
        "a/",
        "library/ubuntu/",
        "/",
        "//",
        "a//b",
        "a/../b",
        "a/./b",
        "..",
        ".",
        "../a",
        "a/..",
        "a___b",
        "a._b",
        "a_.b",
        "a..b",
        "a.-b",
        "a-.b",
        "a-_b",
        "a_-b",
        "-a",
        "a-",
        ".a",
        "a.",
        "_a",
        "a_",
        "__a",
        "a/-b",
        "a/b-",
        "a b",
        " a",
        "a ",
        "a\tb",
        "a\nb",
        "a:b",
        "a@b",
        "a\\b",
        "a%2fb",
        "a+b",
        "a~b",
        "café",
        "ünicode",
        "ａ",               // fullwidth
        "a\u0660",          // Arabic-Indic digit
        "a\0",
        new string('a', 256),
        new string('a', 128) + "/" + new string('b', 127), // 256
        new string('a', 1000),
    };

    [Theory]
    [MemberData(nameof(InvalidNames))]
    public void Invalid_names_are_rejected_with_a_reason(string? text)
    {
        Assert.False(RepositoryName.TryParse(text, out var name, out var reason));
        Assert.False(string.IsNullOrWhiteSpace(reason));
        Assert.Equal(string.Empty, name.Value);
        if (text is not null) Assert.Throws<FormatException>(() => RepositoryName.Parse(text));
    }

    [Fact]
    public void Too_long_reason_mentions_the_limit()
    {
        Assert.False(RepositoryName.TryParse(new string('a', 256), out _, out var reason));
        Assert.Contains("255", reason);
    }

    [Fact]
    public void Equality_hash_and_ordinal_order()
    {
        var a = RepositoryName.Parse("group/a");
        var a2 = RepositoryName.Parse(string.Concat("group/", "a"));
        var b = RepositoryName.Parse("group/b");
        var dash = RepositoryName.Parse("group-x/a");

        Assert.True(a == a2);
        Assert.False(a != a2);
        Assert.Equal(a.GetHashCode(), a2.GetHashCode());
        Assert.True(a.Equals((object)a2));
        Assert.True(a != b);
        Assert.True(a.CompareTo(b) < 0);
        Assert.True(b.CompareTo(a) > 0);
        Assert.Equal(0, a.CompareTo(a2));
        // '-' (0x2D) sorts before '/' (0x2F) in ordinal (catalog) order.
        Assert.True(dash.CompareTo(a) < 0);

        var sorted = new[] { "b", "a/b", "a-b", "a", "a.b" }.Select(RepositoryName.Parse).Order().Select(n => n.Value);
        Assert.Equal(["a", "a-b", "a.b", "a/b", "b"], sorted);
    }

    [Fact]
    public void Default_is_empty()
    {
        RepositoryName d = default;
        Assert.Equal(string.Empty, d.Value);
        Assert.Equal(string.Empty, d.ToString());
        Assert.Equal(0, d.GetHashCode());
    }
}
