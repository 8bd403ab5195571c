/**
 * The memory allocator's settings for a running server. Bun allocates with mimalloc, which by default
 * also returns the free holes inside pages still in use to the OS, 100 ms after they are freed. A
 * server under a steady stream of requests refills those holes at once: each purge is an madvise,
 * and each refill page faults. Measured on the click router at 256 connections: 0.24 page faults per
 * request with hole purging, 0.10 without, and 1.13× the throughput (paired runs, quartiles
 * 1.05-1.20). What it costs is memory: after a load, an idle server keeps about 20 MB more.
 * Wholly free pages are still returned.
 *
 * mimalloc reads its options once, as the process starts, from its environment. So partnerd, started
 * without the setting, starts itself again with it, in place: the same process id, arguments and
 * standard streams (every command does, for one rule; it costs about 10 ms). An operator's own MIMALLOC_PURGE_HOLES is kept as it is (1 turns purging back on).
 */
export const ALLOCATOR_ENV = { MIMALLOC_PURGE_HOLES: '0' } as const

/** Replaces this process by itself with ALLOCATOR_ENV added, unless each variable is already set. */
export function restartWithAllocatorSettings(): void {
  const missing = Object.entries(ALLOCATOR_ENV).filter(([name]) => process.env[name] === undefined)
  if (missing.length === 0 || typeof process.execve !== 'function') return
  // Runtime flags (`bun --inspect`, `--cpu-prof`, `--watch`) mean a debugger, a profiler or a watcher
  // holds this process: a restart would cut it off, and a profiler's signal caught in the restart
  // kills the new process. Such a run keeps the allocator's defaults.
  if (process.execArgv.length > 0) return
  // A compiled binary's argv[1] is its own embedded entry; `bun src/main.ts` needs the script again.
  const script = Bun.main.startsWith('/$bunfs/') ? [] : [process.argv[1]!]
  const argv = [process.execPath, ...script, ...process.argv.slice(2)]
  try {
    process.execve(process.execPath, argv, { ...process.env, ...Object.fromEntries(missing) })
  } catch (err) {
    // Only speed is lost: run on with the allocator's defaults.
    process.stderr.write(`partnerd: could not apply the allocator's settings (${(err as Error).message}); running with its defaults\n`)
  }
}
