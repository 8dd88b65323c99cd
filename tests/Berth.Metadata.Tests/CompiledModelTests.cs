using Berth.Metadata.CompiledModels.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;

namespace Berth.Metadata.Tests;

/// <summary>
/// The SQLite compiled model (src/Berth.Metadata/CompiledModels/Sqlite, used by the server instead of building the
/// model at start-up) must describe exactly the model <see cref="BerthDbContext.OnModelCreating"/> builds: after a
/// model change, regenerate it with <c>bash scripts/ef-compiled-model.sh</c>.
/// </summary>
public sealed class CompiledModelTests
{
    private const string Regenerate = "the compiled SQLite model is stale: run `bash scripts/ef-compiled-model.sh` (see docs/performance.md)";

    private static BerthDbContext Context(bool compiled)
    {
        var options = new DbContextOptionsBuilder<BerthDbContext>().UseSqlite("Data Source=:memory:");
        if (compiled) options.UseModel(BerthDbContextModel.Instance);
        return new BerthDbContext(options.Options);
    }

    [Fact]
    public void The_compiled_SQLite_model_has_the_same_schema_as_the_model()
    {
        using var built = Context(compiled: false);
        using var compiled = Context(compiled: true);
        AssertSame(DescribeSchema(built.Model.GetRelationalModel()), DescribeSchema(compiled.Model.GetRelationalModel()));
    }

    [Fact]
    public void The_compiled_SQLite_model_has_the_same_entities_properties_keys_and_relationships()
    {
        using var built = Context(compiled: false);
        using var compiled = Context(compiled: true);
        Assert.IsType<BerthDbContextModel>(compiled.Model);
        AssertSame(Describe(built.Model), Describe(compiled.Model));
    }

    private static void AssertSame(string[] expected, string[] actual)
    {
        Assert.NotEmpty(expected);
        var missing = expected.Except(actual).ToList();
        var extra = actual.Except(expected).ToList();
        Assert.True(missing.Count == 0 && extra.Count == 0,
            $"{Regenerate}\nnot in the compiled model:\n{string.Join("\n", missing)}\nonly in the compiled model:\n{string.Join("\n", extra)}");
    }

    /// <summary>One line per table, column, primary key, index and foreign key of the database schema the model maps to.</summary>
    private static string[] DescribeSchema(IRelationalModel schema) =>
    [
        .. schema.Tables.OrderBy(t => t.Name, StringComparer.Ordinal).SelectMany(t => new[] { $"table {t.Name}" }
            .Concat(t.Columns.Select(c => $"  column {t.Name}.{c.Name} {c.StoreType} nullable {c.IsNullable}"))
            .Concat(t.PrimaryKey is { } pk ? [$"  primary key {t.Name} {pk.Name} ({string.Join(",", pk.Columns.Select(c => c.Name))})"] : [])
            .Concat(t.UniqueConstraints.Select(u => $"  unique {t.Name} {u.Name} ({string.Join(",", u.Columns.Select(c => c.Name))})"))
            .Concat(t.Indexes.Select(i => $"  index {t.Name} {i.Name} ({string.Join(",", i.Columns.Select(c => c.Name))}) unique {i.IsUnique} filter {i.Filter}"))
            .Concat(t.ForeignKeyConstraints.Select(f =>
                $"  foreign key {t.Name} {f.Name} ({string.Join(",", f.Columns.Select(c => c.Name))}) -> {f.PrincipalTable.Name} ({string.Join(",", f.PrincipalColumns.Select(c => c.Name))}) on delete {f.OnDeleteAction}"))),
    ];

    /// <summary>One line per entity type, property, key, index, foreign key and navigation, with what EF uses at run time
    /// (column defaults, collations and the rest of the schema are compared by the migrations differ above).</summary>
    private static string[] Describe(IModel model) =>
    [
        .. model.GetEntityTypes().OrderBy(e => e.Name, StringComparer.Ordinal).SelectMany(e => new[]
            {
                $"entity {e.Name} table {e.GetTableName()} clr {e.ClrType.FullName}",
            }
            .Concat(e.GetProperties().Select(p =>
                $"  property {e.Name}.{p.Name} {p.ClrType} column {p.GetColumnName()} nullable {p.IsNullable} max {p.GetMaxLength()} " +
                $"generated {p.ValueGenerated} concurrency {p.IsConcurrencyToken} converter {p.GetTypeMapping().Converter?.GetType().Name} " +
                $"store type {p.GetRelationalTypeMapping().StoreType}"))
            .Concat(e.GetKeys().Select(k => $"  key {e.Name}({string.Join(",", k.Properties.Select(p => p.Name))}) primary {k.IsPrimaryKey()}"))
            .Concat(e.GetIndexes().Select(i => $"  index {e.Name}({string.Join(",", i.Properties.Select(p => p.Name))}) unique {i.IsUnique} name {i.GetDatabaseName()} filter {i.GetFilter()}"))
            .Concat(e.GetForeignKeys().Select(f =>
                $"  fk {e.Name}({string.Join(",", f.Properties.Select(p => p.Name))}) -> {f.PrincipalEntityType.Name} delete {f.DeleteBehavior} required {f.IsRequired} unique {f.IsUnique}"))
            .Concat(e.GetNavigations().Select(n => $"  navigation {e.Name}.{n.Name} -> {n.TargetEntityType.Name}"))),
    ];
}
