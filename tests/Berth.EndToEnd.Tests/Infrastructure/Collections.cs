namespace Berth.EndToEnd.Tests.Infrastructure;

/// <summary>Tests sharing one long-running registry server (started once, never restarted).</summary>
[CollectionDefinition(Name)]
public sealed class RegistryCollection : ICollectionFixture<RegistryServerFixture>
{
    /// <summary>The collection name used in <c>[Collection]</c>.</summary>
    public const string Name = "Registry server";
}

/// <summary>Tests that stop and restart their own registry server; kept apart so they disturb nobody.</summary>
[CollectionDefinition(Name)]
public sealed class RestartableRegistryCollection : ICollectionFixture<RegistryServerFixture>
{
    /// <summary>The collection name used in <c>[Collection]</c>.</summary>
    public const string Name = "Restartable registry server";
}
