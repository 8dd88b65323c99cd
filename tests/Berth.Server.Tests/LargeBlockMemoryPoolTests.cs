using Berth.Server.Hosting;

namespace Berth.Server.Tests;

/// <summary>The 64 KiB-block memory pool Kestrel's socket pipes use: whole blocks, reuse, a bounded free list, no
/// block handed out twice.</summary>
public sealed class LargeBlockMemoryPoolTests
{
    [Fact]
    public void Every_rental_is_one_whole_block()
    {
        using var pool = new LargeBlockMemoryPoolFactory().Create();
        Assert.Equal(LargeBlockMemoryPool.BlockSize, pool.MaxBufferSize);
        foreach (var size in new[] { -1, 0, 1, 2048, LargeBlockMemoryPool.BlockSize })
        {
            using var block = pool.Rent(size);
            Assert.Equal(LargeBlockMemoryPool.BlockSize, block.Memory.Length);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(LargeBlockMemoryPool.BlockSize + 1));
    }

    [Fact]
    public void A_returned_block_is_reused_and_a_second_dispose_does_not_return_it_twice()
    {
        using var pool = new LargeBlockMemoryPool();
        var first = pool.Rent();
        var array = first.Memory;
        first.Memory.Span[0] = 42;
        first.Dispose();
        first.Dispose(); // a buggy double return must not put the block in the free list twice

        using var again = pool.Rent();
        using var other = pool.Rent();
        Assert.True(again.Memory.Equals(array), "the returned block is rented again");
        Assert.False(other.Memory.Equals(array), "one block is never handed to two renters");
    }

    [Fact]
    public void At_most_the_retention_limit_of_free_blocks_is_kept()
    {
        using var pool = new LargeBlockMemoryPool();
        var rented = Enumerable.Range(0, LargeBlockMemoryPool.MaxRetainedBlocks + 10).Select(_ => pool.Rent()).ToList();
        var memories = rented.Select(b => b.Memory).ToList();
        rented.ForEach(b => b.Dispose());

        var reused = Enumerable.Range(0, LargeBlockMemoryPool.MaxRetainedBlocks + 10).Select(_ => pool.Rent()).ToList();
        int kept = reused.Count(b => memories.Any(m => m.Equals(b.Memory)));
        Assert.Equal(LargeBlockMemoryPool.MaxRetainedBlocks, kept);
        reused.ForEach(b => b.Dispose());
    }

    [Fact]
    public void A_disposed_pool_rents_nothing()
    {
        var pool = new LargeBlockMemoryPool();
        var block = pool.Rent();
        pool.Dispose();
        block.Dispose(); // returning after the pool went is harmless
        Assert.Throws<ObjectDisposedException>(() => pool.Rent());
    }
}
