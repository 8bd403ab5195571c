/** What every benchmark section shares: processes it started, wrk, and waiting for a server. */
import { spawn, spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { ALLOCATOR_ENV } from '../src/allocator.ts'

export const ROOT = resolve(import.meta.dir, '..')
export const PARTNERD = join(ROOT, 'dist', 'partnerd')
export const LOAD_SECONDS = 5
export const CONNECTIONS = 32

export type Proc = ReturnType<typeof spawn>
export const started: Proc[] = []
/** Set on interruption: nothing new is started while cleaning up. */
export const state = { stopping: false }

export function sh(cmd: string, args: string[], options: { cwd?: string; input?: string } = {}): string {
  const r = spawnSync(cmd, args, { cwd: options.cwd ?? ROOT, encoding: 'utf8', input: options.input, maxBuffer: 64 * 2 ** 20 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`)
  return r.stdout
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

export function freePort(): number {
  const probe = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response() })
  const port = probe.port!
  probe.stop(true)
  return port
}

/**
 * Starts the baseline server. It runs with the allocator settings partnerd gives itself
 * (src/allocator.ts), so that a ratio measures partnerd's work and not the allocator's.
 */
export function startBaseline(path: string, env: Record<string, string> = {}): ReturnType<typeof startTimed> {
  return startTimed(path, [], { ...ALLOCATOR_ENV, ...env })
}

/** Spawns on a free port ($PORT) and polls /ready; resolves with the time from spawn to the first 200. */
export async function startTimed(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ proc: Proc; url: string; ms: number }> {
  if (state.stopping) throw new Error('interrupted')
  const port = freePort()
  const url = `http://127.0.0.1:${port}`
  const t0 = performance.now()
  const proc = spawn(cmd, args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ADMIN_API_KEY: '', ...env, PORT: String(port) },
  })
  started.push(proc)
  while (
    !(await fetch(`${url}/ready`).then(
      (r) => r.status === 200,
      () => false,
    ))
  ) {
    if (proc.exitCode !== null) throw new Error(`${cmd} ${args.join(' ')} exited ${proc.exitCode} before it was ready`)
    if (performance.now() - t0 > 15_000) throw new Error(`${cmd} was not ready within 15 s`)
    await Bun.sleep(2)
  }
  return { proc, url, ms: performance.now() - t0 }
}

export async function stop(proc: Proc): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise((r) => proc.once('exit', r))
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

export interface Load {
  rps: number
  p99ms: number
  avgMs: number
  /** Responses read by wrk, and how many were not 2xx/3xx. */
  requests: number
  errors: number
}

function ms(value: string | undefined, unit: string | undefined): number {
  return Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit as 'us' | 'ms' | 's'] ?? Number.NaN)
}

/** wrk from a separate process, bounded in time; p99 from its latency distribution. */
export function load(
  url: string,
  options: { header?: string[]; script?: string; seconds?: number; connections?: number; warm?: boolean; timeoutSeconds?: number } = {},
): Load {
  const args = [
    ...(options.header ?? []).flatMap((h) => ['-H', h]),
    ...(options.script ? ['-s', options.script] : []),
    // wrk counts a request slower than this as an error, not in the latency.
    ...(options.timeoutSeconds ? ['--timeout', `${options.timeoutSeconds}s`] : []),
  ]
  if (options.warm !== false) sh('wrk', ['-t1', '-c8', '-d1s', ...args, url])
  const out = sh('wrk', [
    '-t2',
    `-c${options.connections ?? CONNECTIONS}`,
    `-d${options.seconds ?? LOAD_SECONDS}s`,
    '--latency',
    ...args,
    url,
  ])
  const p99 = out.match(/99%\s+([\d.]+)(us|ms|s)/)
  const avg = out.match(/Latency\s+([\d.]+)(us|ms|s)/)
  return {
    rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]),
    p99ms: ms(p99?.[1], p99?.[2]),
    avgMs: ms(avg?.[1], avg?.[2]),
    requests: Number(out.match(/(\d+) requests in/)?.[1]),
    errors: Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0),
  }
}

/** Prints rows of [measure, partnerd, baseline, ratio] as an aligned table. */
export function table(rows: string[][]): void {
  const head = ['measure', 'partnerd', 'baseline', 'ratio']
  const widths = [0, 1, 2, 3].map((i) => Math.max(...[head, ...rows].map((r) => (r[i] ?? '').length)))
  const print = (r: string[]) => console.log(r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
  print(head)
  for (const r of rows) print(r)
}

/** Runs a partnerd command to completion (the CLI), with `input` on standard input. */
export function cli(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PARTNERD, args, { input, encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
