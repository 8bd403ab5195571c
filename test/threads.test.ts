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

describe('thread entry points', () => {
  it('builds every file a thread starts from into the binary', () => {
    const build: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.build
    const entries = sourceFiles(join(ROOT, 'src')).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(/threadEntry\('\.\/([^']+)'\)/g)].map((m) => `src/${m[1]}`),
    )
    expect(entries).toContain('src/links/click-thread.ts')
    for (const entry of entries) expect(build.split(/\s+/), entry).toContain(entry)
  })

  it('are imported elsewhere for their types only: their top level is the thread’s own', () => {
    // A value import would run the entry's top level on the main thread too: its `self.onmessage`
    // would then be the process's, and would keep it from ever exiting.
    for (const file of sourceFiles(join(ROOT, 'src'))) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!/from '[./]*(links\/)?click-thread\.ts'/.test(line)) continue
        expect(line, file).toMatch(/^import type /)
      }
    }
  })
})
