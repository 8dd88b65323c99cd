namespace Berth.Distribution;

/// <summary>Unpadded base64url (RFC 7515 §2) as JWS uses it, and the base32 key-id encoding of libtrust.</summary>
internal static class JoseEncoding
{
    /// <summary>Encodes without padding.</summary>
    public static string Encode(ReadOnlySpan<byte> data) => System.Buffers.Text.Base64Url.EncodeToString(data);

    /// <summary>Decodes base64url with or without padding; false for anything else (standard base64's
    /// <c>+</c> and <c>/</c>, stray characters, a bad length).</summary>
    public static bool TryDecode(string? text, out byte[] data)
    {
        data = [];
        if (text is null) return false;
        var trimmed = text.TrimEnd('=');
        if (trimmed.Length % 4 == 1) return false;
        foreach (char c in trimmed)
        {
            if (!(c is >= 'A' and <= 'Z' or >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_')) return false;
        }
        try
        {
            data = System.Buffers.Text.Base64Url.DecodeFromChars(trimmed);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// The libtrust key id of a public key: SHA-256 of its DER SubjectPublicKeyInfo, truncated to 240 bits,
    /// base32-encoded (RFC 4648 alphabet) into 12 groups of 4 characters joined by <c>:</c>,
    /// e.g. <c>OZ45:U3IG:TDOI:PMBD:NGP2:LDIW:II2U:PSBI:MMCZ:YZUP:TUUO:XPZT</c>.
    /// </summary>
    public static string LibtrustKeyId(ReadOnlySpan<byte> subjectPublicKeyInfo)
    {
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(subjectPublicKeyInfo, hash);
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var encoded = new System.Text.StringBuilder(48 + 11);
        int buffer = 0, bits = 0, written = 0;
        foreach (byte b in hash[..30])
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                if (written > 0 && written % 4 == 0) encoded.Append(':');
                encoded.Append(alphabet[(buffer >> bits) & 31]);
                written++;
            }
        }
        return encoded.ToString();
    }
}
