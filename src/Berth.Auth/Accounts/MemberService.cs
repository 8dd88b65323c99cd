using Berth.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace Berth.Auth.Accounts;

/// <summary>What a membership is of: a group (namespace id) or a project.</summary>
/// <param name="NamespaceId">The group's namespace id, or null.</param>
/// <param name="ProjectId">The project id, or null.</param>
public readonly record struct MemberTarget(long? NamespaceId, long? ProjectId)
{
    /// <summary>Memberships of a group.</summary>
    public static MemberTarget Group(long namespaceId) => new(namespaceId, null);

    /// <summary>Memberships of a project.</summary>
    public static MemberTarget Project(long projectId) => new(null, projectId);

    /// <summary>True for a group.</summary>
    public bool IsGroup => NamespaceId is not null;
}

/// <summary>A membership with its user.</summary>
/// <param name="Member">The membership.</param>
/// <param name="User">The member.</param>
public sealed record MemberWithUser(MemberEntity Member, UserEntity User);

/// <summary>
/// Direct memberships of groups and projects, with access levels Guest 10, Reporter 20, Developer 30,
/// Maintainer 40, Owner 50 and an optional expiry. A group always keeps at least one Owner.
/// Throws <see cref="AccountException"/> for refused operations.
/// </summary>
public sealed class MemberService(BerthDbContext db, TimeProvider clock, ILoggerFactory loggers)
{
    /// <summary>Levels a membership may have.</summary>
    public static readonly AccessLevel[] ValidLevels = [AccessLevel.Guest, AccessLevel.Reporter, AccessLevel.Developer, AccessLevel.Maintainer, AccessLevel.Owner];

    /// <summary>Parses an access level number (10, 20, 30, 40, 50).</summary>
    /// <exception cref="AccountException">Not a valid level.</exception>
    public static AccessLevel ParseLevel(int value) =>
        ValidLevels.Contains((AccessLevel)value)
            ? (AccessLevel)value
            : throw AccountException.Invalid("access_level", $"access_level does not have a valid value: {value} (allowed: 10 Guest, 20 Reporter, 30 Developer, 40 Maintainer, 50 Owner)");

    /// <summary>Direct members, by username.</summary>
    public async Task<IReadOnlyList<MemberWithUser>> ListAsync(MemberTarget target, CancellationToken cancellationToken)
    {
        var rows = await (from m in Query(target)
                          join u in db.Users on m.UserId equals u.Id
                          orderby u.Username
                          select new { m, u }).ToListAsync(cancellationToken);
        return rows.Select(r => new MemberWithUser(r.m, r.u)).ToList();
    }

    /// <summary>One direct membership.</summary>
    /// <exception cref="AccountException">Not a member.</exception>
    public async Task<MemberWithUser> GetAsync(MemberTarget target, long userId, CancellationToken cancellationToken)
    {
        var row = await (from m in Query(target)
                         join u in db.Users on m.UserId equals u.Id
                         where m.UserId == userId
                         select new { m, u }).FirstOrDefaultAsync(cancellationToken);
        return row is null ? throw AccountException.NotFound("Member") : new MemberWithUser(row.m, row.u);
    }

    /// <summary>Adds a user as a direct member.</summary>
    /// <exception cref="AccountException">User not found; already a member (<see cref="AccountErrorKind.Conflict"/>); expiry in the past.</exception>
    public async Task<MemberWithUser> AddAsync(MemberTarget target, long userId, AccessLevel level, DateTime? expiresAt, CancellationToken cancellationToken)
    {
        var user = await db.Users.FirstOrDefaultAsync(u => u.Id == userId, cancellationToken) ?? throw AccountException.NotFound("User");
        CheckExpiry(expiresAt);
        if (await Query(target).AnyAsync(m => m.UserId == userId, cancellationToken))
            throw new AccountException(AccountErrorKind.Conflict, "Member already exists");
        var member = new MemberEntity
        {
            NamespaceId = target.NamespaceId,
            ProjectId = target.ProjectId,
            UserId = userId,
            AccessLevel = (int)level,
            ExpiresAt = expiresAt,
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        try
        {
            db.Members.Add(member);
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException)
        {
            throw new AccountException(AccountErrorKind.Conflict, "Member already exists");
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
        AccountAudit.MembershipChanged(Audit, Describe(target), $"{user.Username} added as {level}{(expiresAt is { } at ? $" until {at:u}" : "")}");
        return new MemberWithUser(member, user);
    }

    /// <summary>Changes a member's level and/or expiry (<paramref name="expiresAt"/> is applied when <paramref name="setExpiry"/>).</summary>
    /// <exception cref="AccountException">Not a member; the last Owner of a group would be demoted.</exception>
    public async Task<MemberWithUser> UpdateAsync(MemberTarget target, long userId, AccessLevel? level, bool setExpiry, DateTime? expiresAt, CancellationToken cancellationToken)
    {
        var existing = await GetAsync(target, userId, cancellationToken);
        if (level is { } newLevel && newLevel != AccessLevel.Owner)
            await EnsureNotLastOwnerAsync(target, existing.Member, cancellationToken);
        if (setExpiry) CheckExpiry(expiresAt);
        var member = await db.Members.AsTracking().FirstAsync(m => m.Id == existing.Member.Id, cancellationToken);
        try
        {
            if (level is { } l) member.AccessLevel = (int)l;
            if (setExpiry) member.ExpiresAt = expiresAt;
            await db.SaveChangesAsync(cancellationToken);
        }
        finally
        {
            db.ChangeTracker.Clear();
        }
        AccountAudit.MembershipChanged(Audit, Describe(target), $"{existing.User.Username} changed to {(AccessLevel)member.AccessLevel}{(member.ExpiresAt is { } at ? $" until {at:u}" : "")}");
        return existing with { Member = member };
    }

    /// <summary>Removes a direct membership.</summary>
    /// <exception cref="AccountException">Not a member; the last Owner of a group.</exception>
    public async Task RemoveAsync(MemberTarget target, long userId, CancellationToken cancellationToken)
    {
        var existing = await GetAsync(target, userId, cancellationToken);
        await EnsureNotLastOwnerAsync(target, existing.Member, cancellationToken);
        await db.Members.Where(m => m.Id == existing.Member.Id).ExecuteDeleteAsync(cancellationToken);
        AccountAudit.MembershipChanged(Audit, Describe(target), $"{existing.User.Username} removed (was {(AccessLevel)existing.Member.AccessLevel})");
    }

    private ILogger Audit => loggers.CreateLogger(AccountAudit.Category);

    private static string Describe(MemberTarget target) => target.IsGroup ? $"group {target.NamespaceId}" : $"project {target.ProjectId}";

    private IQueryable<MemberEntity> Query(MemberTarget target) =>
        target.IsGroup ? db.Members.Where(m => m.NamespaceId == target.NamespaceId) : db.Members.Where(m => m.ProjectId == target.ProjectId);

    private async Task EnsureNotLastOwnerAsync(MemberTarget target, MemberEntity member, CancellationToken cancellationToken)
    {
        if (!target.IsGroup || member.AccessLevel != (int)AccessLevel.Owner) return;
        int owners = await Query(target).CountAsync(m => m.AccessLevel == (int)AccessLevel.Owner, cancellationToken);
        if (owners <= 1)
            throw new AccountException(AccountErrorKind.Forbidden, "a group must keep at least one Owner: add another Owner first");
    }

    private void CheckExpiry(DateTime? expiresAt)
    {
        if (expiresAt is { } at && at <= clock.GetUtcNow().UtcDateTime)
            throw AccountException.Invalid("expires_at", "expires_at must be in the future");
    }
}
