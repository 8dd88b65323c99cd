using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace Berth.Server.Hosting;

/// <summary>
/// The memory pool Kestrel's connections use for their socket pipes, with 64 KiB blocks instead of ASP.NET Core's
/// 4 KiB ones. The socket transport receives into the free part of the pipe's last block, so the block size caps the
/// bytes one <c>recv</c> returns: with 4 KiB blocks a 512 MiB blob push costs ~131,000 receives plus as many
/// zero-byte "wait for data" receives, pipe flushes and reader wake-ups; with 64 KiB blocks one sixteenth of that.
/// Blocks are pinned arrays (the pinned object heap), handed out whole; at most <see cref="MaxRetainedBlocks"/> free
/// blocks are kept per pool, the rest are left to the garbage collector, so a burst of concurrent uploads does not
/// keep its peak buffer memory resident afterwards.
/// </summary>
public sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    /// <summary>Size of every block in bytes.</summary>
    public const int BlockSize = 64 * 1024;

    /// <summary>Free blocks kept for reuse, per pool (4 MiB).</summary>
    public const int MaxRetainedBlocks = 64;

    private readonly ConcurrentQueue<Block> _free = new();
    private volatile bool _disposed;

    /// <summary>Blocks are <see cref="BlockSize"/> bytes; larger rentals are refused.</summary>
    public override int MaxBufferSize => BlockSize;

    /// <summary>Rents one block of <see cref="BlockSize"/> bytes (its <c>Memory</c> is the whole block).</summary>
    /// <param name="minBufferSize">Bytes needed, at most <see cref="BlockSize"/>; -1 for the default.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minBufferSize"/> is larger than a block.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_free.TryDequeue(out var block))
        {
            block.Rented = true;
            return block;
        }
        return new Block(this);
    }

    private void Return(Block block)
    {
        if (!_disposed && _free.Count < MaxRetainedBlocks) _free.Enqueue(block);
    }

    /// <summary>Drops the free blocks; blocks still rented are dropped when returned.</summary>
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _free.Clear();
    }

    private sealed class Block(LargeBlockMemoryPool pool) : IMemoryOwner<byte>
    {
        private readonly byte[] _array = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);

        public bool Rented { get; set; } = true;

        public Memory<byte> Memory => _array;

        public void Dispose()
        {
            // Returned once per rental: a second Dispose of the same rental must not put the block in the queue twice.
            if (!Rented) return;
            Rented = false;
            pool.Return(this);
        }
    }
}

/// <summary>
/// Makes every Kestrel memory pool a <see cref="LargeBlockMemoryPool"/> (registered as ASP.NET Core's
/// <see cref="IMemoryPoolFactory{T}"/>, which the socket transport asks for its pipes' pools).
/// </summary>
public sealed class LargeBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    /// <summary>Creates a new, empty pool.</summary>
    /// <param name="options">Ignored (the owner name is only used by ASP.NET Core's pool metrics).</param>
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new LargeBlockMemoryPool();
}
