namespace Berth.Storage.Tests;

/// <summary>The driver suite on the filesystem driver, one temp folder per test.</summary>
public sealed class FileSystemDriverTests : StorageDriverSuite, IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "berth-storage-tests", Guid.NewGuid().ToString("N"));
    private readonly FileSystemStorageDriver _driver;

    public FileSystemDriverTests() => _driver = new FileSystemStorageDriver(_root);

    protected override IStorageDriver Driver => _driver;

    [Fact]
    public async Task Paths_resolving_outside_the_root_through_a_symlink_parent_stay_inside()
    {
        // The filesystem driver serves local files for zero-copy sends: they must be under the root.
        await WriteAsync("inside/file", RandomBytes(3));
        var local = _driver.GetLocalFilePath("inside/file")!;
        Assert.StartsWith(_root + Path.DirectorySeparatorChar, local, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
