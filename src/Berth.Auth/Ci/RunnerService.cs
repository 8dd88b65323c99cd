using Berth.Auth.Accounts;
using Berth.Metadata;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace Berth.Auth.Ci;

/// <summary>
/// CI runner credentials (<c>brnr-…</c>): a CI integration authenticates with one to ask for job tokens.
/// A project runner (made by a Maintainer of the project) gets jobs of that project only; an instance runner
/// (made by an admin) of any project. Secrets are returned once and stored as SHA-256 hashes. Throws
/// <see cref="AccountException"/> for refused operations.
/// </summary>
public sealed class RunnerService(BerthDbContext db, TimeProvider clock, ILoggerFactory loggers)
{
    /// <summary>Prefix of runner secrets.</summary>
    public const string TokenPrefix = "brnr-";

    private readonly ILogger _audit = loggers.CreateLogger(CiAudit.Category);

    /// <summary>Creates a runner for a project (<paramref name="projectId"/>) or the whole instance (null).</summary>
    /// <exception cref="AccountException">Project not found; description too long.</exception>
    public async Task<CreatedToken<RunnerEntity>> CreateAsync(long? projectId, string? description, long creatorId, CancellationToken cancellationToken)
    {
        description = string.IsNullOrWhiteSpace(description) ? (projectId is null ? "instance runner" : "project runner") : description.Trim();
        if (description.Length > 255) throw AccountException.Invalid("description", "description is too long (maximum is 255 characters)");
        if (projectId is { } pid && !await db.Projects.AnyAsync(p => p.Id == pid, cancellationToken)) throw AccountException.NotFound("Project");
        var secret = SecretTokens.Generate(TokenPrefix);
        var runner = new RunnerEntity
        {
            ProjectId = projectId,
            Description = description,
            TokenHash = SecretTokens.Hash(secret),
            CreatorId = creatorId,
            CreatedAt = clock.GetUtcNow().UtcDateTime,
        };
        db.Runners.Add(runner);
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();
        CiAudit.RunnerCreated(_audit, runner.Id, projectId is null ? "instance" : $"project {projectId}", creatorId);
        return new CreatedToken<RunnerEntity>(runner, secret);
    }

    /// <summary>Runners of one project, or all runners when <paramref name="projectId"/> is null; oldest first.</summary>
    public async Task<IReadOnlyList<RunnerEntity>> ListAsync(long? projectId, CancellationToken cancellationToken)
    {
        var query = db.Runners.AsQueryable();
        if (projectId is { } id) query = query.Where(r => r.ProjectId == id);
        return await query.OrderBy(r => r.Id).ToListAsync(cancellationToken);
    }

    /// <summary>One runner.</summary>
    /// <exception cref="AccountException">Not found.</exception>
    public async Task<RunnerEntity> GetAsync(long id, CancellationToken cancellationToken) =>
        await db.Runners.FirstOrDefaultAsync(r => r.Id == id, cancellationToken) ?? throw AccountException.NotFound("Runner");

    /// <summary>Deletes a runner; job tokens it obtained keep working until their jobs end.</summary>
    /// <exception cref="AccountException">Not found.</exception>
    public async Task DeleteAsync(long id, long byUserId, CancellationToken cancellationToken)
    {
        if (await db.Runners.Where(r => r.Id == id).ExecuteDeleteAsync(cancellationToken) == 0) throw AccountException.NotFound("Runner");
        CiAudit.RunnerDeleted(_audit, id, byUserId);
    }

    /// <summary>The active runner a secret belongs to, or null; records the contact time (minute resolution).</summary>
    public async Task<RunnerEntity?> AuthenticateAsync(string secret, CancellationToken cancellationToken)
    {
        if (!secret.StartsWith(TokenPrefix, StringComparison.Ordinal)) return null;
        var hash = SecretTokens.Hash(secret);
        var runner = await db.Runners.FirstOrDefaultAsync(r => r.TokenHash == hash, cancellationToken);
        if (runner is null || !runner.Active || !SecretTokens.HashEquals(runner.TokenHash, hash)) return null;
        var now = clock.GetUtcNow().UtcDateTime;
        if (runner.ContactedAt is null || now - runner.ContactedAt > TimeSpan.FromMinutes(1))
        {
            await db.Runners.Where(r => r.Id == runner.Id).ExecuteUpdateAsync(s => s.SetProperty(r => r.ContactedAt, now), cancellationToken);
            runner.ContactedAt = now;
        }
        return runner;
    }
}
