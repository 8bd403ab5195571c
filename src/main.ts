#!/usr/bin/env bun
/**
 * partnerd's entry. It sets the allocator up first (allocator.ts), which may start the process
 * again, and only then loads the command line (cli/main.ts): the binary is built with code
 * splitting, so that a restart happens before the rest of the program is read (about 10 ms in, not 120).
 */
import { restartWithAllocatorSettings } from './allocator.ts'

restartWithAllocatorSettings()
const { runCommandLine } = await import('./cli/main.ts')
runCommandLine(process.argv.slice(2))
