/**
 * The compiled binary (dist/partnerd, built once per run by global-setup.ts), driven as an operator
 * would: written configs, `partnerd serve` started and stopped, the CLI run to completion.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { stringify } from 'yaml'
import { tempDir } from './databases.ts'

export const ROOT = resolve(import.meta.dirname, '..', '..')
export const BINARY = join(ROOT, 'dist', 'partnerd')

const running: ChildProcess[] = []

export function writeConfig(settings: Record<string, unknown> | string, dir = tempDir()): string {
  const file = join(dir, 'partnerd.yaml')
  writeFileSync(file, typeof settings === 'string' ? settings : stringify(settings))
  return file
}

const BOOTSTRAP_KEY = /op_live_[A-Za-z0-9_-]{43}/
const SETUP_LINK = /https?:\/\/\S+\/setup\?token=[A-Za-z0-9_-]+/

export interface Served {
  url: string
  stderr: () => string
  /** What it wrote on stdout so far: its log. */
  stdout: () => string
  /** The admin key a first start prints on stderr (a separate pipe: it may arrive after the URL). */
  bootstrapKey: () => Promise<string>
  /** The one-time setup link a first start prints on stderr. */
  setupLink: () => Promise<string>
  proc: ChildProcess
}

/** What stderr will say, once it has said it. */
function awaitOutput(err: () => string, pattern: RegExp, what: string): () => Promise<string> {
  return async () => {
    for (let waited = 0; waited < 5000; waited += 20) {
      const found = err().match(pattern)?.[0]
      if (found) return found
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error(`no ${what} on stderr:\n${err()}`)
  }
}

/**
 * Starts `partnerd serve`, resolves once it logs its URL; collects stderr for what a first start prints.
 * `env` is added to the environment; a variable given as undefined is removed from it.
 */
export function serve(config: string, env: Record<string, string | undefined> = {}): Promise<Served> {
  const environment: Record<string, string | undefined> = { ...process.env, ADMIN_API_KEY: '', ...env }
  for (const [name, value] of Object.entries(environment)) if (value === undefined) delete environment[name]
  const proc = spawn(BINARY, ['serve', '--config', config], { env: environment })
  running.push(proc)
  let out = ''
  let err = ''
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 10 s\n${out}\n${err}`)), 10_000)
    proc.stderr!.on('data', (d) => {
      err += d
    })
    proc.stdout!.on('data', (d) => {
      out += d
      for (const line of out.split('\n')) {
        if (!line.includes('partnerd listening')) continue
        clearTimeout(timer)
        const stderr = () => err
        resolvePromise({
          url: JSON.parse(line).url,
          stderr,
          stdout: () => out,
          bootstrapKey: awaitOutput(stderr, BOOTSTRAP_KEY, 'bootstrap key'),
          setupLink: awaitOutput(stderr, SETUP_LINK, 'setup link'),
          proc,
        })
      }
    })
    proc.on('exit', (code) => reject(new Error(`exited ${code}\n${out}\n${err}`)))
  })
}

export async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise((r) => proc.once('exit', r))
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(timer)
}

/** Stops every server this file started (for an afterEach). */
export async function stopAll(): Promise<void> {
  await Promise.all(running.splice(0).map(stop))
}

/** Runs the binary to completion: for the CLI and for starts that must fail. */
export function run(args: string[], env: Record<string, string> = {}, input?: string) {
  const started = Date.now()
  const r = spawnSync(BINARY, args, { encoding: 'utf8', timeout: 15_000, input, env: { ...process.env, ADMIN_API_KEY: '', ...env } })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started }
}

/** Runs the binary to completion without blocking this process (so a test can keep traffic flowing meanwhile). */
export function runAsync(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now()
  const proc = spawn(BINARY, args, { env: { ...process.env, ADMIN_API_KEY: '', ...env } })
  let stdout = ''
  let stderr = ''
  proc.stdout!.on('data', (d) => {
    stdout += d
  })
  proc.stderr!.on('data', (d) => {
    stderr += d
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
  return new Promise((resolve) =>
    proc.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    }),
  )
}
