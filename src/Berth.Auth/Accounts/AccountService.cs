using System.Net.Mail;
using System.Security.Cryptography;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OtpNet;

namespace Berth.Auth.Accounts;

/// <summary>A new user's details.</summary>
/// <param name="Username">The username (see <see cref="PathRules"/>); also the personal namespace's path.</param>
/// <param name="Email">E-mail address, unique (case-insensitive).</param>
/// <param name="Name">Display name; the username when null or empty.</param>
/// <param name="Password">Password; null for an account that can only use tokens (or that gets one later).</param>
/// <param name="IsAdmin">Instance administrator.</param>
public sealed record NewUser(string Username, string Email, string? Name = null, string? Password = null, bool IsAdmin = false);

/// <summary>What enabling two-factor authentication hands out, once.</summary>
/// <param name="Secret">The TOTP shared secret, base32 (RFC 4648), for manual entry.</param>
/// <param name="OtpAuthUri">The <c>otpauth://totp/…</c> URI (Key Uri Format) for QR codes.</param>
/// <param name="RecoveryCodes">Ten one-time recovery codes; only their hashes are stored.</param>
public sealed record TwoFactorSetup(string Secret, string OtpAuthUri, IReadOnlyList<string> RecoveryCodes);

/// <summary>
/// User accounts: creation (with the personal namespace), passwords, blocking, the admin flag, two-factor
/// authentication (TOTP, RFC 6238, with Otp.NET; 30-second steps, 6 digits, SHA-1, one step of drift either
/// way) with hashed one-time recovery codes, and the bootstrap of the <c>root</c> administrator.
/// Throws <see cref="AccountException"/> for refused operations.
/// </summary>
public sealed partial class AccountService(BerthDbContext db, PasswordHashing passwords, TimeProvider clock, ILogger<AccountService> logger, ILoggerFactory loggers)
{
    /// <summary>Username of the administrator created on first start.</summary>
    public const string RootUsername = "root";

    /// <summary>File name (in the data folder) the generated root password is written to.</summary>
    public const string InitialRootPasswordFile = "initial_root_password";

    /// <summary>Issuer shown by authenticator apps.</summary>
    public const string TotpIssuer = "Berth";

    /// <summary>How many recovery codes are handed out.</summary>
    public const int RecoveryCodeCount = 10;

    private DateTime Now => clock.GetUtcNow().UtcDateTime;

    /// <summary>Finds a user by id.</summary>
    /// <exception cref="AccountException">No such user (<see cref="AccountErrorKind.NotFound"/>).</exception>
    public async Task<UserEntity> GetUserAsync(long id, CancellationToken cancellationToken) =>
        await db.Users.FirstOrDefaultAsync(u => u.Id == id, cancellationToken) ?? throw AccountException.NotFound("User");

    /// <summary>Finds a user by username (case-insensitive).</summary>
    /// <exception cref="AccountException">No such user (<see cref="AccountErrorKind.NotFound"/>).</exception>
    public async Task<UserEntity> GetUserAsync(string username, CancellationToken cancellationToken)
    {
        var normalized = username.Trim().ToLowerInvariant();
        return await db.Users.FirstOrDefaultAsync(u => u.NormalizedUsername == normalized, cancellationToken)
            ?? throw new AccountException(AccountErrorKind.NotFound, $"User '{username}' Not Found");
    }

    /// <summary>
    /// Creates a user and its personal namespace (kind <c>user</c>, full path = username). The username must
    /// follow <see cref="PathRules"/> and be unused, case-insensitively, by users and by group paths alike.
    /// </summary>
    /// <exception cref="AccountException">Invalid username, e-mail or password; username or e-mail taken (<see cref="AccountErrorKind.Conflict"/>).</exception>
    public async Task<UserEntity> CreateUserAsync(NewUser request, CancellationToken cancellationToken)
    {
        var username = request.Username?.Trim() ?? "";
        PathRules.CheckSegment(username, "username", topLevel: true);
        var email = request.Email?.Trim() ?? "";
        if (email.Length == 0) throw AccountException.Invalid("email", "email is missing");
        if (!MailAddress.TryCreate(email, out var parsed) || parsed.Address != email)
            throw AccountException.Invalid("email", $"email '{email}' is invalid");
        var normalized = username.ToLowerInvariant();
        if (await db.Users.AnyAsync(u => u.NormalizedUsername == normalized, cancellationToken)
            || await db.Namespaces.AnyAsync(n => n.FullPath.ToLower() == normalized, cancellationToken))
            throw new AccountException(AccountErrorKind.Conflict, "Username has already been taken", "username");
        var lowerEmail = email.ToLowerInvariant();
        if (await db.Users.AnyAsync(u => u.Email.ToLower() == lowerEmail, cancellationToken))
            throw new AccountException(AccountErrorKind.Conflict, "Email has already been taken", "email");

        var user = new UserEntity
        {
            Username = username,
            NormalizedUsername = normalized,
            Email = email,
            Name = string.IsNullOrWhiteSpace(request.Name) ? username : request.Name.Trim(),
            IsAdmin = request.IsAdmin,
            CreatedAt = Now,
        };
        if (request.Password is not null) user.PasswordHash = HashPassword(user, request.Password);

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        try
        {
            db.Users.Add(user);
            await db.SaveChangesAsync(cancellationToken);
            db.Namespaces.Add(new NamespaceEntity
            {
                Name = user.Name,
                Path = username,
                FullPath = username,
                Kind = "user",
                OwnerId = user.Id,
                Visibility = Visibility.Private,
                CreatedAt = user.CreatedAt,
            });
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            throw new AccountException(AccountErrorKind.Conflict, "Username or email has already been taken", "username");
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
        return user;
    }

    /// <summary>Sets (or replaces) a user's password.</summary>
    /// <exception cref="AccountException">No such user; password too short.</exception>
    public async Task SetPasswordAsync(long userId, string password, CancellationToken cancellationToken)
    {
        var user = await TrackedUserAsync(userId, cancellationToken);
        user.PasswordHash = HashPassword(user, password);
        await SaveAsync(cancellationToken);
    }

    /// <summary>Blocks or unblocks a user. Blocked users cannot sign in or use any of their tokens.</summary>
    /// <exception cref="AccountException">No such user.</exception>
    public async Task SetBlockedAsync(long userId, bool blocked, CancellationToken cancellationToken)
    {
        var user = await TrackedUserAsync(userId, cancellationToken);
        user.IsBlocked = blocked;
        await SaveAsync(cancellationToken);
        AccountAudit.PermissionChanged(Audit, user.Username, blocked ? "blocked" : "unblocked");
    }

    private ILogger Audit => loggers.CreateLogger(AccountAudit.Category);

    /// <summary>Grants or withdraws instance administration.</summary>
    /// <exception cref="AccountException">No such user.</exception>
    public async Task SetAdminAsync(long userId, bool isAdmin, CancellationToken cancellationToken)
    {
        var user = await TrackedUserAsync(userId, cancellationToken);
        user.IsAdmin = isAdmin;
        await SaveAsync(cancellationToken);
        AccountAudit.PermissionChanged(Audit, user.Username, isAdmin ? "made an instance administrator" : "no longer an instance administrator");
    }

    /// <summary>Changes a user's display name and/or e-mail (null leaves a value as it is).</summary>
    /// <exception cref="AccountException">No such user; e-mail invalid or taken.</exception>
    public async Task UpdateProfileAsync(long userId, string? name, string? email, CancellationToken cancellationToken)
    {
        var user = await TrackedUserAsync(userId, cancellationToken);
        if (!string.IsNullOrWhiteSpace(name)) user.Name = name.Trim();
        if (email is not null)
        {
            email = email.Trim();
            if (!MailAddress.TryCreate(email, out var parsed) || parsed.Address != email)
                throw AccountException.Invalid("email", $"email '{email}' is invalid");
            var lower = email.ToLowerInvariant();
            if (await db.Users.AnyAsync(u => u.Id != userId && u.Email.ToLower() == lower, cancellationToken))
                throw new AccountException(AccountErrorKind.Conflict, "Email has already been taken", "email");
            user.Email = email;
        }
        await SaveAsync(cancellationToken);
    }

    /// <summary>
    /// Turns two-factor authentication on (or re-keys it): a new 160-bit TOTP secret and ten new recovery
    /// codes (older codes stop working). From then on the user's password is refused outside the web sign-in.
    /// </summary>
    /// <exception cref="AccountException">No such user.</exception>
    public Task<TwoFactorSetup> EnableTwoFactorAsync(long userId, CancellationToken cancellationToken) =>
        EnableTwoFactorWithSecretAsync(userId, NewTotpSecret(), cancellationToken);

    /// <summary>A fresh 160-bit TOTP secret (base32), for an enrollment that verifies a first code before
    /// turning 2FA on (see <see cref="ConfirmTwoFactorAsync"/>).</summary>
    public static string NewTotpSecret() => Base32Encoding.ToString(KeyGeneration.GenerateRandomKey(20));

    /// <summary>The <c>otpauth://totp/…</c> URI (Key Uri Format) of a secret, for QR codes.</summary>
    public static string TotpUri(string secret, string username) => new OtpUri(OtpType.Totp, secret, username, TotpIssuer).ToString();

    /// <summary>
    /// Turns two-factor authentication on with <paramref name="secret"/> (from <see cref="NewTotpSecret"/>),
    /// but only when <paramref name="code"/> is a current TOTP code of that secret (one step of drift either
    /// way): the web enrollment's "verify a first code" step.
    /// </summary>
    /// <returns>The setup with ten new recovery codes, or null when the code is wrong (nothing changes).</returns>
    /// <exception cref="AccountException">No such user; the secret is not base32.</exception>
    public async Task<TwoFactorSetup?> ConfirmTwoFactorAsync(long userId, string secret, string code, CancellationToken cancellationToken)
    {
        byte[] key;
        try
        {
            key = Base32Encoding.ToBytes(secret);
        }
        catch (ArgumentException)
        {
            throw AccountException.Invalid("secret", "the two-factor secret is malformed; start the setup again");
        }
        code = code.Trim().Replace(" ", "", StringComparison.Ordinal);
        if (key.Length < 10 || code.Length != 6 || !code.All(char.IsAsciiDigit)) return null;
        if (!new Totp(key).VerifyTotp(Now, code, out _, VerificationWindow.RfcSpecifiedNetworkDelay)) return null;
        return await EnableTwoFactorWithSecretAsync(userId, secret, cancellationToken);
    }

    private async Task<TwoFactorSetup> EnableTwoFactorWithSecretAsync(long userId, string secret, CancellationToken cancellationToken)
    {
        var user = await TrackedUserAsync(userId, cancellationToken);
        user.TotpSecret = secret;
        user.TwoFactorEnabled = true;
        await db.RecoveryCodes.Where(c => c.UserId == userId).ExecuteDeleteAsync(cancellationToken);
        var codes = new List<string>(RecoveryCodeCount);
        for (int i = 0; i < RecoveryCodeCount; i++)
        {
            var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
            codes.Add(code);
            db.RecoveryCodes.Add(new RecoveryCodeEntity { UserId = userId, CodeHash = SecretTokens.Hash(code) });
        }
        await SaveAsync(cancellationToken);
        AccountAudit.TwoFactorEnabled(Audit, user.Username);
        return new TwoFactorSetup(secret, TotpUri(secret, user.Username), codes);
    }

    /// <summary>Turns two-factor authentication off and forgets the secret and recovery codes.</summary>
    /// <exception cref="AccountException">No such user.</exception>
    public async Task DisableTwoFactorAsync(long userId, CancellationToken cancellationToken)
    {
        var user = await TrackedUserAsync(userId, cancellationToken);
        user.TwoFactorEnabled = false;
        user.TotpSecret = null;
        await db.RecoveryCodes.Where(c => c.UserId == userId).ExecuteDeleteAsync(cancellationToken);
        await SaveAsync(cancellationToken);
        AccountAudit.TwoFactorDisabled(Audit, user.Username);
    }

    /// <summary>
    /// Checks a second factor: a current TOTP code (one 30-second step of drift either way), or an unused
    /// recovery code, which is then spent. False when 2FA is off or the code is wrong.
    /// </summary>
    public async Task<bool> VerifyTwoFactorAsync(long userId, string code, CancellationToken cancellationToken)
    {
        code = code.Trim().Replace(" ", "", StringComparison.Ordinal);
        if (code.Length == 0) return false;
        var user = await db.Users.FirstOrDefaultAsync(u => u.Id == userId, cancellationToken);
        if (user is not { TwoFactorEnabled: true, TotpSecret: { } secret }) return false;
        if (code.Length == 6 && code.All(char.IsAsciiDigit))
        {
            var totp = new Totp(Base32Encoding.ToBytes(secret));
            return totp.VerifyTotp(Now, code, out _, VerificationWindow.RfcSpecifiedNetworkDelay);
        }
        var hash = SecretTokens.Hash(code.ToLowerInvariant());
        var now = Now;
        int spent = await db.RecoveryCodes
            .Where(c => c.UserId == userId && c.CodeHash == hash && c.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(c => c.UsedAt, now), cancellationToken);
        return spent == 1;
    }

    /// <summary>How many unused recovery codes a user has left.</summary>
    public Task<int> CountRecoveryCodesAsync(long userId, CancellationToken cancellationToken) =>
        db.RecoveryCodes.CountAsync(c => c.UserId == userId && c.UsedAt == null, cancellationToken);

    /// <summary>
    /// First start: when there is neither a user named <c>root</c> nor any administrator, creates the
    /// administrator <c>root</c> (e-mail <c>root@localhost</c>). Its password is <paramref name="rootPassword"/>
    /// when given; otherwise a random one, written once to <c>&lt;dataDir&gt;/initial_root_password</c>
    /// (owner read/write only) and that file's path is logged, never the password.
    /// </summary>
    /// <returns>True when root was created now.</returns>
    /// <exception cref="AccountException"><paramref name="rootPassword"/> is too short.</exception>
    public async Task<bool> EnsureRootAsync(string dataDir, string? rootPassword, CancellationToken cancellationToken)
    {
        if (await db.Users.AnyAsync(u => u.NormalizedUsername == RootUsername || u.IsAdmin, cancellationToken)) return false;
        bool generated = string.IsNullOrEmpty(rootPassword);
        var password = generated ? SecretTokens.RandomString(24) : rootPassword!;
        try
        {
            await CreateUserAsync(new NewUser(RootUsername, "root@localhost", "Administrator", password, IsAdmin: true), cancellationToken);
        }
        catch (AccountException ex) when (ex.Kind == AccountErrorKind.Conflict)
        {
            return false; // another replica was first
        }
        if (generated)
        {
            var path = Path.GetFullPath(Path.Combine(dataDir, InitialRootPasswordFile));
            WriteOwnerOnlyFile(path, $"""
                # The password of Berth's administrator account `root`, generated on first start.
                # Sign in, change it (berth user password root), then delete this file.
                # (Set BERTH_ROOT_PASSWORD before the first start to choose it instead.)
                Password: {password}

                """);
            LogRootCreatedWithFile(logger, path);
        }
        else
        {
            LogRootCreatedFromSetting(logger);
        }
        return true;
    }

    private static void WriteOwnerOnlyFile(string path, string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (File.Exists(path)) File.Delete(path);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var stream = new FileStream(path, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(content);
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private string HashPassword(UserEntity user, string password)
    {
        try
        {
            return passwords.Hash(user, password);
        }
        catch (ArgumentException ex)
        {
            throw AccountException.Invalid("password", ex.Message.Split(" (Parameter", 2)[0]);
        }
    }

    private async Task<UserEntity> TrackedUserAsync(long userId, CancellationToken cancellationToken) =>
        await db.Users.AsTracking().FirstOrDefaultAsync(u => u.Id == userId, cancellationToken) ?? throw AccountException.NotFound("User");

    private async Task SaveAsync(CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning,
        Message = "Created the administrator account root; its generated password is in {PasswordFile} (readable by this user only): sign in, change it and delete the file")]
    private static partial void LogRootCreatedWithFile(ILogger logger, string passwordFile);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information,
        Message = "Created the administrator account root with the password from BERTH_ROOT_PASSWORD (RootPassword)")]
    private static partial void LogRootCreatedFromSetting(ILogger logger);
}
