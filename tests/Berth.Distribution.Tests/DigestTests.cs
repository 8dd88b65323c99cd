using System.Security.Cryptography;
using System.Text;

namespace Berth.Distribution.Tests;

public class DigestTests
{
    private const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private const string AbcSha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    private const string EmptySha512 = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
    private const string AbcSha512 = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

    private static readonly string Hex64 = new('a', 64);
    private static readonly string Hex128 = new('0', 128);

    [Theory]
    [InlineData("sha256:" + EmptySha256, "sha256", EmptySha256)]
    [InlineData("sha256:" + AbcSha256, "sha256", AbcSha256)]
    [InlineData("sha256:0000000000000000000000000000000000000000000000000000000000000000", "sha256", "0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "sha256", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")]
    [InlineData("sha512:" + EmptySha512, "sha512", EmptySha512)]
    [InlineData("sha512:" + AbcSha512, "sha512", AbcSha512)]
    public void Valid_digests_parse(string text, string algorithm, string encoded)
    {
        Assert.True(Digest.TryParse(text, out var digest));
        Assert.False(digest.IsEmpty);
        Assert.Equal(algorithm, digest.Algorithm);
        Assert.Equal(encoded, digest.Encoded);
        Assert.Equal(text, digest.ToString());
        Assert.Equal(digest, Digest.Parse(text));
    }

    public static TheoryData<string?> InvalidDigests() => new()
    {
        null,
        "",
        " ",
        "\t",
        ":",
        "sha256",
        "sha256:",
        EmptySha256,                                   // missing algorithm and colon
        "sha256" + EmptySha256,                        // missing colon
        ":" + EmptySha256,                             // empty algorithm
        "sha256:" + EmptySha256.ToUpperInvariant(),    // uppercase hex
        "sha256:E" + EmptySha256[1..],                 // one uppercase char
        "SHA256:" + EmptySha256,                       // uppercase algorithm
        "Sha256:" + EmptySha256,
        "sha256:" + EmptySha256[..63],                 // too short
        "sha256:" + EmptySha256 + "0",                 // too long
        "sha256:" + EmptySha512,                       // sha512 length under sha256
        "sha512:" + EmptySha256,                       // sha256 length under sha512
        "sha512:" + EmptySha512[..127],
        "sha512:" + EmptySha512 + "a",
        "md5:d41d8cd98f00b204e9800998ecf8427e",         // unknown algorithms
        "sha384:38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
        "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "blake3:" + EmptySha256,
        "sha256+b64:" + EmptySha256,
        "sha256:../../etc",                            // path escapes
        "sha256:../../etc/passwd",
        "sha256:/abc",
        "sha256:/" + EmptySha256[1..],
        "sha256:..%2f" + EmptySha256[5..],
        "sha256:" + EmptySha256[..62] + "/x",
        "sha256:" + EmptySha256[..62] + "..",
        "sha256:" + EmptySha256[..63] + "g",           // non-hex
        "sha256:" + EmptySha256[..63] + "\0",
        " sha256:" + EmptySha256,                      // surrounding whitespace
        "sha256:" + EmptySha256 + " ",
        "sha256:" + EmptySha256 + "\n",
        "sha256: " + EmptySha256[1..],
        "sha256 :" + EmptySha256,
        "sha256::" + EmptySha256[1..],
        "sha256:" + EmptySha256[..32] + ":" + EmptySha256[33..],
        "sha256:" + EmptySha256[..63] + "\u0660",      // Arabic-Indic digit zero
        "sha256:" + EmptySha256[..63] + "ａ",          // fullwidth a
    };

    [Theory]
    [MemberData(nameof(InvalidDigests))]
    public void Invalid_digests_are_rejected(string? text)
    {
        Assert.False(Digest.TryParse(text, out var digest));
        Assert.True(digest.IsEmpty);
        if (text is not null) Assert.Throws<FormatException>(() => Digest.Parse(text));
    }

    [Fact]
    public void Parse_error_message_is_truncated_for_long_input()
    {
        var ex = Assert.Throws<FormatException>(() => Digest.Parse(new string('x', 10_000)));
        Assert.True(ex.Message.Length < 300, ex.Message);
    }

    [Theory]
    [InlineData("", EmptySha256)]
    [InlineData("abc", AbcSha256)]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    public void ComputeSha256_matches_known_vectors(string input, string expectedHex)
    {
        var bytes = Encoding.ASCII.GetBytes(input);
        var digest = Digest.ComputeSha256(bytes);
        Assert.Equal("sha256:" + expectedHex, digest.ToString());
        Assert.Equal(Digest.Sha256, digest.Algorithm);
        Assert.Equal(digest, Digest.Compute(Digest.Sha256, bytes));
        Assert.Equal(HashAlgorithmName.SHA256, digest.HashAlgorithm);
    }

    [Theory]
    [InlineData("", EmptySha512)]
    [InlineData("abc", AbcSha512)]
    public void Compute_sha512_matches_known_vectors(string input, string expectedHex)
    {
        var digest = Digest.Compute(Digest.Sha512, Encoding.ASCII.GetBytes(input));
        Assert.Equal("sha512:" + expectedHex, digest.ToString());
        Assert.Equal(Digest.Sha512, digest.Algorithm);
        Assert.Equal(expectedHex, digest.Encoded);
        Assert.Equal(HashAlgorithmName.SHA512, digest.HashAlgorithm);
    }

    [Theory]
    [InlineData("md5")]
    [InlineData("sha384")]
    [InlineData("SHA256")]
    [InlineData("")]
    public void Compute_rejects_unsupported_algorithms(string algorithm)
    {
        Assert.Throws<ArgumentException>(() => Digest.Compute(algorithm, "abc"u8));
    }

    [Fact]
    public void Compute_of_large_content_matches_incremental_hash()
    {
        var data = new byte[1 << 20];
        new Random(42).NextBytes(data);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int i = 0; i < data.Length; i += 4096) hash.AppendData(data, i, 4096);
        Assert.Equal(Digest.FromHash(Digest.Sha256, hash.GetHashAndReset()), Digest.ComputeSha256(data));
    }

    [Theory]
    [InlineData("sha256", 32)]
    [InlineData("sha512", 64)]
    public void FromHash_accepts_matching_lengths(string algorithm, int length)
    {
        var hash = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
        var digest = Digest.FromHash(algorithm, hash);
        Assert.Equal(algorithm, digest.Algorithm);
        Assert.Equal(Convert.ToHexStringLower(hash), digest.Encoded);
    }

    [Theory]
    [InlineData("sha256", 31)]
    [InlineData("sha256", 33)]
    [InlineData("sha256", 64)]
    [InlineData("sha512", 32)]
    [InlineData("sha512", 0)]
    [InlineData("md5", 16)]
    [InlineData("sha384", 48)]
    public void FromHash_rejects_wrong_lengths_and_algorithms(string algorithm, int length)
    {
        Assert.Throws<ArgumentException>(() => Digest.FromHash(algorithm, new byte[length]));
    }

    [Fact]
    public void Equality_and_hash_code_are_by_value()
    {
        var a = Digest.Parse("sha256:" + Hex64);
        var b = Digest.Parse("sha256:" + new string('a', 64)); // a distinct string instance
        var c = Digest.Parse("sha256:" + EmptySha256);
        var d = Digest.Parse("sha512:" + Hex128);

        Assert.True(a == b);
        Assert.False(a != b);
        Assert.True(a.Equals(b));
        Assert.True(a.Equals((object)b));
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.True(a != c);
        Assert.NotEqual(a, d);
        Assert.False(a.Equals("sha256:" + Hex64));
        Assert.False(a.Equals(null));

        var set = new HashSet<Digest> { a, b, c, d };
        Assert.Equal(3, set.Count);
        Assert.Contains(Digest.Parse("sha256:" + EmptySha256), set);
    }

    [Fact]
    public void Default_is_empty()
    {
        Digest d = default;
        Assert.True(d.IsEmpty);
        Assert.Equal(string.Empty, d.ToString());
        Assert.Equal(string.Empty, d.Algorithm);
        Assert.Equal(string.Empty, d.Encoded);
        Assert.Equal(0, d.GetHashCode());
        Assert.Equal(default(Digest), d);
        Assert.NotEqual(Digest.ComputeSha256([]), d);
        Assert.False(Digest.ComputeSha256([]).IsEmpty);
    }
}
