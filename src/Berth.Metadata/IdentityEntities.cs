namespace Berth.Metadata;

/// <summary>A user account.</summary>
public sealed class UserEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The username as chosen (also the personal namespace's path).</summary>
    public required string Username { get; set; }
    /// <summary>Lower-cased username, unique (sign-in is case-insensitive).</summary>
    public required string NormalizedUsername { get; set; }
    /// <summary>E-mail address.</summary>
    public required string Email { get; set; }
    /// <summary>Display name.</summary>
    public required string Name { get; set; }
    /// <summary>Password hash (ASP.NET Core Identity PBKDF2 format), null when password sign-in is impossible.</summary>
    public string? PasswordHash { get; set; }
    /// <summary>Instance administrator.</summary>
    public bool IsAdmin { get; set; }
    /// <summary>Blocked users cannot sign in or use any token.</summary>
    public bool IsBlocked { get; set; }
    /// <summary>Two-factor authentication (TOTP) is on: passwords are refused outside the web sign-in.</summary>
    public bool TwoFactorEnabled { get; set; }
    /// <summary>The TOTP shared secret (base32), when 2FA is set up.</summary>
    public string? TotpSecret { get; set; }
    /// <summary>When the account was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
    /// <summary>Last successful sign-in (UTC).</summary>
    public DateTime? LastSignInAt { get; set; }
}

/// <summary>A one-time 2FA recovery code, stored hashed.</summary>
public sealed class RecoveryCodeEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The user.</summary>
    public long UserId { get; set; }
    /// <summary>SHA-256 of the code (hex).</summary>
    public required string CodeHash { get; set; }
    /// <summary>When it was used (UTC); null while unused.</summary>
    public DateTime? UsedAt { get; set; }
}

/// <summary>A namespace: a user's personal namespace or a group (groups nest: <c>a/b/c</c>).</summary>
public sealed class NamespaceEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>Display name.</summary>
    public required string Name { get; set; }
    /// <summary>Last path segment.</summary>
    public required string Path { get; set; }
    /// <summary>Full path (<c>a/b/c</c>), unique.</summary>
    public required string FullPath { get; set; }
    /// <summary>Parent group, for subgroups.</summary>
    public long? ParentId { get; set; }
    /// <summary><c>user</c> or <c>group</c>.</summary>
    public required string Kind { get; set; }
    /// <summary>The owning user of a personal namespace.</summary>
    public long? OwnerId { get; set; }
    /// <summary><c>private</c>, <c>internal</c> or <c>public</c>.</summary>
    public required string Visibility { get; set; }
    /// <summary>Description.</summary>
    public string? Description { get; set; }
    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>A project: owns members, settings, tokens and its container repositories.</summary>
public sealed class ProjectEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The namespace it lives in.</summary>
    public long NamespaceId { get; set; }
    /// <summary>Display name.</summary>
    public required string Name { get; set; }
    /// <summary>Last path segment.</summary>
    public required string Path { get; set; }
    /// <summary>Full path (<c>group/sub/project</c>), unique.</summary>
    public required string FullPath { get; set; }
    /// <summary><c>private</c>, <c>internal</c> or <c>public</c>.</summary>
    public required string Visibility { get; set; }
    /// <summary>The project's Container Registry switch.</summary>
    public bool RegistryEnabled { get; set; } = true;
    /// <summary>Description.</summary>
    public string? Description { get; set; }
    /// <summary>The user who created it.</summary>
    public long? CreatorId { get; set; }
    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>A membership: a user's access level in a namespace (group) or a project.</summary>
public sealed class MemberEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The group's namespace id (null for project memberships).</summary>
    public long? NamespaceId { get; set; }
    /// <summary>The project id (null for group memberships).</summary>
    public long? ProjectId { get; set; }
    /// <summary>The member.</summary>
    public long UserId { get; set; }
    /// <summary>Guest 10, Reporter 20, Developer 30, Maintainer 40, Owner 50.</summary>
    public int AccessLevel { get; set; }
    /// <summary>Optional expiry (UTC).</summary>
    public DateTime? ExpiresAt { get; set; }
    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>A personal access token; only its hash is stored.</summary>
public sealed class PersonalAccessTokenEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The owner.</summary>
    public long UserId { get; set; }
    /// <summary>A name for people.</summary>
    public required string Name { get; set; }
    /// <summary>Space-separated scopes (<c>api read_api read_registry write_registry</c>).</summary>
    public required string Scopes { get; set; }
    /// <summary>SHA-256 of the secret (hex), unique.</summary>
    public required string TokenHash { get; set; }
    /// <summary>Expiry (UTC); null for none.</summary>
    public DateTime? ExpiresAt { get; set; }
    /// <summary>Revoked tokens are refused.</summary>
    public bool Revoked { get; set; }
    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
    /// <summary>Last use (UTC).</summary>
    public DateTime? LastUsedAt { get; set; }
}

/// <summary>A project deploy token (username + secret); only the secret's hash is stored.</summary>
public sealed class DeployTokenEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary>The project.</summary>
    public long ProjectId { get; set; }
    /// <summary>A name for people.</summary>
    public required string Name { get; set; }
    /// <summary>The username to sign in with, unique.</summary>
    public required string Username { get; set; }
    /// <summary>Space-separated scopes (<c>read_registry write_registry</c>).</summary>
    public required string Scopes { get; set; }
    /// <summary>SHA-256 of the secret (hex), unique.</summary>
    public required string TokenHash { get; set; }
    /// <summary>Expiry (UTC); null for none.</summary>
    public DateTime? ExpiresAt { get; set; }
    /// <summary>Revoked tokens are refused.</summary>
    public bool Revoked { get; set; }
    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
}

/// <summary>A token-signing key pair with its self-signed certificate, shared by every replica.</summary>
public sealed class SigningKeyEntity
{
    /// <summary>Key id (RFC 7638 JWK thumbprint).</summary>
    public required string Id { get; set; }
    /// <summary>JWS algorithm, e.g. <c>RS256</c>.</summary>
    public required string Algorithm { get; set; }
    /// <summary>PKCS#8 private key, PEM.</summary>
    public required string PrivateKeyPem { get; set; }
    /// <summary>Self-signed X.509 certificate of the public key, PEM (for registries' <c>rootcertbundle</c>).</summary>
    public required string CertificatePem { get; set; }
    /// <summary>When it was created (UTC).</summary>
    public DateTime CreatedAt { get; set; }
    /// <summary>When it stopped signing (UTC); it still verifies until its tokens expired. Null while active.</summary>
    public DateTime? RetiredAt { get; set; }
}

/// <summary>A failed sign-in, for rate limiting per account and per client address (shared across replicas).</summary>
public sealed class FailedSignInEntity
{
    /// <summary>Surrogate key.</summary>
    public long Id { get; set; }
    /// <summary><c>user:&lt;name&gt;</c> or <c>ip:&lt;address&gt;</c>.</summary>
    public required string Key { get; set; }
    /// <summary>When it happened (UTC).</summary>
    public DateTime At { get; set; }
}

/// <summary>An instance-wide setting (e.g. <c>registry_enabled</c>, <c>signup_enabled</c>).</summary>
public sealed class InstanceSettingEntity
{
    /// <summary>The setting's key.</summary>
    public required string Key { get; set; }
    /// <summary>The value as text.</summary>
    public required string Value { get; set; }
}
