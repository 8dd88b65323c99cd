namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>
/// A fact that runs against Berth but is skipped when <c>BERTH_E2E_TARGET=distribution</c>, for
/// behaviour CNCF Distribution 2.8 does not have (e.g. the OCI 1.1 referrers API).
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class BerthOnlyFactAttribute : FactAttribute
{
    /// <summary>Skips the test in distribution mode, saying why.</summary>
    public BerthOnlyFactAttribute(string whyDistributionFails)
    {
        var target = Environment.GetEnvironmentVariable("BERTH_E2E_TARGET")?.Trim().ToLowerInvariant();
        if (target is "distribution" or "docker-registry")
        {
            Skip = $"not supported by CNCF Distribution 2.8: {whyDistributionFails}";
        }
    }
}
