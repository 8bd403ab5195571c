/**
 * `bun run bench`: what the foundation costs, each figure as a ratio against a baseline measured in the
 * same run on the same machine (these machines are shared and noisy; only ratios compare across runs).
 *
 * Baseline: bench/baseline-server.ts, the smallest Bun HTTP server, compiled with the same flags and
 * run with the same allocator settings.
 *   - binary size
 *   - cold start: spawn → first 200 from /ready (median of 7); partnerd on a new SQLite database
 *     (migrations, first tenant, admin key) and on an existing one; and the main thread's CPU time
 *     in the latter (wall time on a shared machine also holds the waits for a core)
 *   - idle RSS one second after ready
 *   - GET /health throughput and p99 under wrk (Debian's `wrk`) on loopback, bounded in time, three runs in turns
 *     with the baseline's (the median ratio); and its throughput with
 *     the access log on (the default logging)
 * Authentication, against the same route served without a guard (bench/plugins/same-route.ts):
 *   - requests/s of the guarded route with an API key, and with a session cookie
 * The partner program (bench/tracking.ts): the click router, event ingestion, reads at scale.
 * The console (bench/console.ts): pages against their JSON calls at scale, and the first page's bytes.
 * Pass --build to rebuild dist/partnerd first; pass `foundation`, `tracking`, `router`, `events`, `reads`, `webhooks` or `console` for one section.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { consoleBench } from './console.ts'
import {
  CONNECTIONS,
  LOAD_SECONDS,
  type Load,
  load,
  median,
  PARTNERD,
  ROOT,
  sh,
  startBaseline,
  started,
  startTimed,
  state,
  stop,
  table,
} from './support.ts'
import { startPostgres, trackingBench } from './tracking.ts'
import { webhooksBench } from './webhooks.ts'

const WORK = mkdtempSync(join(tmpdir(), 'partnerd-bench-'))
const BASELINE = join(WORK, 'baseline')
const STORED_BASELINE = join(WORK, 'baseline-stored')
const RUNS = 7

/**
 * partnerd's config for a database folder; the port comes from $PORT (config.example.yaml does the
 * same). Logged at warn, so without the access log, unless `level` says otherwise.
 */
function freshConfig(dbDir: string, extra = '', level = 'warn'): string {
  const file = join(dbDir, 'partnerd.yaml')
  writeFileSync(
    file,
    `server:\n  host: 127.0.0.1\n  port: \${PORT:-0}\ndatabase:\n  sqlite:\n    path: ${join(dbDir, 'partnerd.db')}\nlogging:\n  level: ${level}\n${extra}`,
  )
  return file
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)
  return Number(line?.[1] ?? 0) / 1024
}

/**
 * Loads taken in turns three times over (a burst of the machine's other load then falls on each
 * alike): each one's median run, and the median over the turns of each one's ratio to `reference`'s.
 */
function loadsInTurns<K extends string>(loads: Record<K, () => Load>, reference: NoInfer<K>) {
  const names = Object.keys(loads) as K[]
  const turns = [0, 1, 2].map(() => Object.fromEntries(names.map((name) => [name, loads[name]()])) as Record<K, Load>)
  const mid = (name: K) => [...turns.map((t) => t[name])].sort((a, b) => a.rps - b.rps)[1]!
  return Object.fromEntries(
    names.map((name) => [name, { load: mid(name), ratio: median(turns.map((t) => t[name].rps / t[reference].rps)) }]),
  ) as Record<K, { load: Load; ratio: number }>
}

/** /health under load on partnerd and on the baseline, in turns. */
function pairedHealthLoads(partnerdUrl: string, baselineUrl: string) {
  const turns = loadsInTurns({ partnerd: () => load(`${partnerdUrl}/health`), baseline: () => load(`${baselineUrl}/health`) }, 'baseline')
  return { partnerd: turns.partnerd.load, baseline: turns.baseline.load, ratio: turns.partnerd.ratio }
}

/**
 * The CPU time the process's main thread has run, in ms (from its start, across the allocator's
 * restart in place, which keeps the thread). A start's wall time on a shared machine also holds the
 * time it waited for a core; this does not.
 */
function mainThreadCpuMs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6
}

type Starts = { partnerd: number[]; baseline: number[]; partnerdCpu: number[]; baselineCpu: number[] }

/**
 * Cold starts of partnerd and of the baseline, alternating run by run, so a burst of load from the
 * machine's other tenants falls on both sides rather than on one.
 */
async function coldStarts(argsFor: (i: number) => string[]): Promise<Starts> {
  const times: Starts = { partnerd: [], baseline: [], partnerdCpu: [], baselineCpu: [] }
  for (let i = 0; i < RUNS; i++) {
    for (const side of ['partnerd', 'baseline'] as const) {
      const { proc, ms } = side === 'partnerd' ? await startTimed(PARTNERD, argsFor(i)) : await startBaseline(BASELINE)
      times[side].push(ms)
      times[`${side}Cpu`].push(mainThreadCpuMs(proc.pid!))
      await stop(proc)
    }
  }
  return times
}

async function main() {
  if (spawnSync('wrk', ['--version']).error) throw new Error('bench needs wrk on the PATH (Debian: apt-get install wrk)')
  if (process.argv.includes('--build') || !Bun.file(PARTNERD).size) sh('bun', ['run', 'build'])
  // The baseline is built with exactly the flags of package.json's build script.
  const buildScript: string = (await Bun.file(join(ROOT, 'package.json')).json()).scripts.build
  const flags = buildScript.split(/\s+/).filter((word) => word.startsWith('--') && word !== '--outfile')
  sh('bun', ['build', ...flags, join(ROOT, 'bench/baseline-server.ts'), '--outfile', BASELINE])
  // Sections: `tracking` (the partner program), `router`, `events` or `reads` (parts of it alone) or
  // `webhooks`, or all by default.
  const only = ['foundation', 'tracking', 'router', 'events', 'reads', 'webhooks', 'console'].find((name) => process.argv.includes(name))
  if (!only || only === 'foundation') await foundation()
  if (!only || only === 'tracking' || only === 'router' || only === 'events' || only === 'reads') {
    if (only === 'tracking' || only === 'router' || !only)
      sh('bun', ['build', ...flags, join(ROOT, 'bench/baseline-stored-server.ts'), '--outfile', STORED_BASELINE])
    await trackingBench({
      work: WORK,
      baseline: BASELINE,
      storedBaseline: STORED_BASELINE,
      only: only === 'router' || only === 'events' || only === 'reads' ? only : undefined,
    })
  }
  if (!only || only === 'webhooks') {
    console.log('\nWebhooks: the worker against plain POSTs of the same bodies from one process, 50 at a time.\n')
    table(await webhooksBench({ work: WORK }))
  }
  if (!only || only === 'console') {
    const postgres = await startPostgres()
    try {
      const rows = await consoleBench({ work: WORK, postgres })
      console.log('\nThe console: a page against the JSON call of its main data (the same session cookie, the same run),')
      console.log('and the bytes of the first page against their budget.\n')
      table(rows)
    } finally {
      await postgres.stop()
    }
  }
}

/** The foundation: size, cold start, memory, /health, and what authentication costs. */
async function foundation() {
  const size = { partnerd: statSync(PARTNERD).size / 2 ** 20, baseline: statSync(BASELINE).size / 2 ** 20 }

  const fresh = await coldStarts((i) => ['serve', '--config', freshConfig(mkdtempSync(join(WORK, `new-${i}-`)))])
  const existingDir = mkdtempSync(join(WORK, 'existing-'))
  const existingConfig = freshConfig(existingDir)
  await stop((await startTimed(PARTNERD, ['serve', '--config', existingConfig])).proc)
  const existing = await coldStarts(() => ['serve', '--config', existingConfig])
  const [newDb, existingDb, base] = [fresh.partnerd, existing.partnerd, [...fresh.baseline, ...existing.baseline]]
  const baseCpu = [...fresh.baselineCpu, ...existing.baselineCpu]

  const p = await startTimed(PARTNERD, ['serve', '--config', existingConfig])
  const b = await startBaseline(BASELINE)
  await Bun.sleep(1000)
  const rss = { partnerd: rssMiB(p.proc.pid!), baseline: rssMiB(b.proc.pid!) }
  const health = pairedHealthLoads(p.url, b.url)
  const [partnerdLoad, baselineLoad] = [health.partnerd, health.baseline]
  await Promise.all([stop(p.proc), stop(b.proc)])
  // The same with the default logging: an access-log line per request (to /dev/null: what a line
  // costs partnerd, not what a terminal or a pipe's reader costs).
  // Paired with the baseline the same way.
  const logged = await startTimed(PARTNERD, ['serve', '--config', freshConfig(mkdtempSync(join(WORK, 'logged-')), '', 'info')])
  const again = await startBaseline(BASELINE)
  const loggedHealth = pairedHealthLoads(logged.url, again.url)
  await Promise.all([stop(logged.proc), stop(again.proc)])

  // Authentication: the same handler open and guarded, with a key and with a session cookie.
  const authDir = mkdtempSync(join(WORK, 'auth-'))
  const authConfig = freshConfig(authDir, `plugins:\n  - path: ${join(ROOT, 'bench/plugins/same-route.ts')}\n`)
  const keyJson = sh(PARTNERD, ['key', 'create', '--name', 'bench', '--json', '--config', authConfig])
  const apiKey = JSON.parse(keyJson).key as string
  const password = 'bench password 1234'
  const made = spawnSync(PARTNERD, ['user', 'create', '--email', 'bench@example.com', '--password-stdin', '--config', authConfig], {
    input: password,
  })
  if (made.status !== 0) throw new Error(`user create failed: ${made.stderr}`)
  const a = await startTimed(PARTNERD, ['serve', '--config', authConfig])
  const signIn = await fetch(`${a.url}/api/auth/sign-in/email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'bench@example.com', password }),
  })
  const cookie = signIn.headers.getSetCookie()[0]!.split(';')[0]!
  for (const [header, expected] of [
    [undefined, 200],
    [`authorization: Bearer ${apiKey}`, 200],
    [`cookie: ${cookie}`, 200],
  ] as const) {
    const path = header ? '/api/bench/guarded' : '/api/bench/open'
    const probe = await fetch(`${a.url}${path}`, { headers: header ? { [header.split(': ')[0]!]: header.split(': ')[1]! } : {} })
    if (probe.status !== expected) throw new Error(`${path} answered ${probe.status}, expected ${expected}`)
  }
  // In turns, as /health above: the ratios are of loads taken a few seconds apart.
  const auth = loadsInTurns(
    {
      open: () => load(`${a.url}/api/bench/open`),
      withKey: () => load(`${a.url}/api/bench/guarded`, { header: [`authorization: Bearer ${apiKey}`] }),
      withCookie: () => load(`${a.url}/api/bench/guarded`, { header: [`cookie: ${cookie}`] }),
    },
    'open',
  )
  await stop(a.proc)
  const [open, withKey, withCookie] = [auth.open.load, auth.withKey.load, auth.withCookie.load]

  const rows: [string, string, string, string][] = [
    ['binary size (MiB)', size.partnerd.toFixed(1), size.baseline.toFixed(1), (size.partnerd / size.baseline).toFixed(2)],
    ['cold start, new database (ms, median)', median(newDb).toFixed(0), median(base).toFixed(0), (median(newDb) / median(base)).toFixed(2)],
    [
      'cold start, existing database (ms, median)',
      median(existingDb).toFixed(0),
      median(base).toFixed(0),
      (median(existingDb) / median(base)).toFixed(2),
    ],
    [
      'cold start, existing database: main thread CPU (ms, median)',
      median(existing.partnerdCpu).toFixed(0),
      median(baseCpu).toFixed(0),
      (median(existing.partnerdCpu) / median(baseCpu)).toFixed(2),
    ],
    ['idle RSS (MiB)', rss.partnerd.toFixed(1), rss.baseline.toFixed(1), (rss.partnerd / rss.baseline).toFixed(2)],
    [
      `GET /health requests/s (wrk, ${CONNECTIONS} conn, ${LOAD_SECONDS} s, median of 3 in turns)`,
      partnerdLoad.rps.toFixed(0),
      baselineLoad.rps.toFixed(0),
      health.ratio.toFixed(2),
    ],
    [
      'GET /health requests/s, access log on (level info)',
      loggedHealth.partnerd.rps.toFixed(0),
      loggedHealth.baseline.rps.toFixed(0),
      loggedHealth.ratio.toFixed(2),
    ],
    [
      'GET /health p99 latency (ms; indicative, wrk shares the cores)',
      partnerdLoad.p99ms.toFixed(2),
      baselineLoad.p99ms.toFixed(2),
      (partnerdLoad.p99ms / baselineLoad.p99ms).toFixed(2),
    ],
  ]
  rows.push(
    ['same route, open (requests/s, median of 3 in turns)', open.rps.toFixed(0), open.rps.toFixed(0), '1.00'],
    ['same route, API key (requests/s)', withKey.rps.toFixed(0), open.rps.toFixed(0), auth.withKey.ratio.toFixed(2)],
    ['same route, session cookie (requests/s)', withCookie.rps.toFixed(0), open.rps.toFixed(0), auth.withCookie.ratio.toFixed(2)],
  )
  console.log(`\npartnerd vs. a bare compiled Bun server (same flags, same run); ${RUNS} starts each.`)
  console.log('Authentication rows: baseline is the same route without a guard, in the same server.\n')
  table(rows)
  console.log(
    `\nstarts (ms): new ${newDb.map((t) => t.toFixed(0)).join(' ')} | existing ${existingDb.map((t) => t.toFixed(0)).join(' ')} | baseline ${base.map((t) => t.toFixed(0)).join(' ')}`,
  )
}

async function cleanUp(): Promise<void> {
  await Promise.all(started.map(stop))
  rmSync(WORK, { recursive: true, force: true })
}

// Interrupted (Ctrl-C, a CI time-out): stop every server started and remove the scratch folder. The
// handler runs once a blocking step (a build, a wrk run) returns.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    state.stopping = true
    void cleanUp().finally(() => process.exit(130))
  })
}

try {
  await main()
} finally {
  await cleanUp()
}
