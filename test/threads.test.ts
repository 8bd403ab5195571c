/**
 * Worker threads: each entry file named with threadEntry() must be an entry point of package.json's
 * build script, or the compiled binary has no such file and the thread cannot start (the router would
 * answer every click with a 500); and the main thread must not run an entry's top level.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') ? [path] : []
  })
}

/** Every entry file a thread is started from, as `src/…` paths. */
const threadEntries = sourceFiles(join(ROOT, 'src')).flatMap((file) =>
  [...readFileSync(file, 'utf8').matchAll(/threadEntry\('\.\/([^']+)'\)/g)].map((m) => `src/${m[1]}`),
)

describe('thread entry points', () => {
  it('builds every file a thread starts from into the binary', () => {
    const build: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.build
    expect(threadEntries).toContain('src/links/click-thread.ts')
    expect(threadEntries).toContain('src/db/checkpoint-thread.ts')
    for (const entry of threadEntries) expect(build.split(/\s+/), entry).toContain(entry)
  })

  it('are imported elsewhere for their types only: their top level is the thread’s own', () => {
    // A value import would run the entry's top level on the main thread too: its `self.onmessage`
    // would then be the process's, and would keep it from ever exiting.
    const names = threadEntries.map((entry) => entry.split('/').at(-1)!)
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const from = / from '([^']+)'/.exec(line)?.[1]
        if (!from || !names.some((name) => from.endsWith(`/${name}`))) continue
        expect(line, file).toMatch(/^import type /)
      }
    }
  })
})
