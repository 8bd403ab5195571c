/**
 * The console (`bun run bench -- console`), on SQLite and on PostgreSQL:
 *
 * - Render time: a console page against the JSON API call that returns the same data, with the same
 *   session cookie, at 100k partners, 1M clicks and 100k commissions: the partners list against
 *   GET /api/partners?totals=true, the commissions queue against GET /api/commissions, the overview
 *   against GET /api/overview. Both call the same services; the page adds its markup, the
 *   navigation's counts and the names of what it shows: the ratio is what those cost. Page and call
 *   are requested in turns, and the median of each is compared.
 * - Bytes a browser downloads for the first console page (the overview, chart included), gzipped:
 *   cold (the page and every asset) and warm (assets are immutable: the page alone), against the
 *   budget of 60 KB of script and 30 KB of style.
 */
import { cli, median, PARTNERD, startTimed, stop } from './support.ts'
import { api, type Dialect, type Postgres, SCALE, seed, type Target, target, tenantId } from './tracking.ts'

const PASSWORD = 'bench console password'
const BUDGET = { js: 60 * 1024, css: 30 * 1024 }

/** 100k commissions, one per seeded partner, each for a sale event: a queue and totals of that size. */
export async function seedCommissions(t: Target, tenant: string, programId: string): Promise<void> {
  const at = new Date().toISOString()
  const n = SCALE.partners
  if (t.dialect === 'postgres') {
    await t.query(
      `insert into events (id, tenant_id, external_event_id, customer_id, type, value_minor, currency, metadata, occurred_at, received_at, request_hash, attribution)
       select 'evt_SEED' || lpad(g::text, 22, '0'), $1, 'seed-' || g, 'customer-' || g, 'sale', 10000, 'USD', '{}', $2, $2, 'x', '{}'
       from generate_series(1, ${n}) g`,
      [tenant, at],
    )
    await t.query(
      `insert into commissions (id, tenant_id, event_id, partner_id, program_id, customer_id, trigger, kind, amount_minor, currency, status, mature_at, created_at, updated_at)
       select 'com_SEED' || lpad(g::text, 22, '0'), $1, 'evt_SEED' || lpad(g::text, 22, '0'), '0SEED' || lpad(g::text, 21, '0'), $2,
              'customer-' || g, 'sale', 'commission', 1000, 'USD', case when g % 10 = 0 then 'flagged' else 'accrued' end, $3, $3, $3
       from generate_series(1, ${n}) g`,
      [tenant, programId, at],
    )
    await t.query('vacuum analyze')
    return
  }
  const pad = (v: number, width: number) => String(v).padStart(width, '0')
  await t.query('begin')
  for (let g = 1; g <= n; g++) {
    await t.query(
      `insert into events (id, tenant_id, external_event_id, customer_id, type, value_minor, currency, metadata, occurred_at, received_at, request_hash, attribution)
       values ($1, $2, $3, $4, 'sale', 10000, 'USD', '{}', $5, $5, 'x', '{}')`,
      [`evt_SEED${pad(g, 22)}`, tenant, `seed-${g}`, `customer-${g}`, at],
    )
    await t.query(
      `insert into commissions (id, tenant_id, event_id, partner_id, program_id, customer_id, trigger, kind, amount_minor, currency, status, mature_at, created_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, 'sale', 'commission', 1000, 'USD', $7, $8, $8, $8)`,
      [
        `com_SEED${pad(g, 22)}`,
        tenant,
        `evt_SEED${pad(g, 22)}`,
        `0SEED${pad(g, 21)}`,
        programId,
        `customer-${g}`,
        g % 10 === 0 ? 'flagged' : 'accrued',
        at,
      ],
    )
  }
  await t.query('commit')
  await t.query('analyze')
}

async function signIn(url: string): Promise<string> {
  const res = await fetch(`${url}/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: url },
    body: new URLSearchParams({ email: 'bench@example.com', password: PASSWORD, next: '/admin' }),
  })
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('op_session='))
  if (res.status !== 303 || !cookie) throw new Error(`sign-in answered ${res.status}`)
  return cookie.split(';')[0]!
}

/** Rounds of page and JSON call in turns, each round's order alternating: at most this many, for at most this long. */
const ROUNDS = { max: 300, min: 5, seconds: 8 }

/**
 * The page and its JSON call requested in turns on one connection, each timed to its last byte; the
 * median of each. Taken in turns, both meet the same machine: a shared one's load moves both alike,
 * where two loads one after the other would each meet a different moment. A page of several seconds
 * at this scale still gets its rounds.
 */
async function inTurns(url: string, page: string, json: string, cookie: string): Promise<{ pageMs: number; jsonMs: number }> {
  const timed = async (path: string) => {
    const started = performance.now()
    const res = await fetch(url + path, { headers: { cookie } })
    await res.arrayBuffer()
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`)
    return performance.now() - started
  }
  for (let i = 0; i < 5; i++) await Promise.all([timed(page), timed(json)]) // the JIT's warm-up, both sides
  const times = { page: [] as number[], json: [] as number[] }
  const until = performance.now() + ROUNDS.seconds * 1000
  for (let round = 0; round < ROUNDS.max && (round < ROUNDS.min || performance.now() < until); round++) {
    if (round % 2 === 0) {
      times.page.push(await timed(page))
      times.json.push(await timed(json))
    } else {
      times.json.push(await timed(json))
      times.page.push(await timed(page))
    }
  }
  return { pageMs: median(times.page), jsonMs: median(times.json) }
}

async function renderTimes(dialect: Dialect, work: string, postgres: Postgres): Promise<string[][]> {
  const t = await target(dialect, work, postgres)
  try {
    const first = await startTimed(PARTNERD, ['serve', '--config', t.config])
    const program = await api(first.url, 'POST', '/programs', {
      name: 'Console',
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://shop.example.com/',
      rules: [{ on: 'sale', percent: '10' }],
    })
    await stop(first.proc)
    const tenant = await tenantId(t)
    await seed(t, tenant, program.id)
    await seedCommissions(t, tenant, program.id)
    const made = cli(
      ['user', 'create', '--email', 'bench@example.com', '--role', 'owner', '--password-stdin', '--config', t.config],
      PASSWORD,
    )
    if (made.code !== 0) throw new Error(`user create: ${made.stderr}`)
    const server = await startTimed(PARTNERD, ['serve', '--config', t.config])
    const cookie = await signIn(server.url)
    // Each page against the API call that answers its data: the same services, as JSON.
    const pairs: [string, string, string][] = [
      ['the partners list', '/admin/partners', '/api/partners?limit=50&order=newest&totals=true'],
      ['the commissions queue', '/admin/commissions', '/api/commissions?limit=50&order=newest'],
      ['the overview', '/admin', '/api/overview'],
    ]
    const rows: string[][] = []
    for (const [name, page, json] of pairs) {
      const { pageMs, jsonMs } = await inTurns(server.url, page, json, cookie)
      rows.push([
        `${dialect}: ${name} vs its JSON call, median ms (100k partners, 1M clicks)`,
        pageMs.toFixed(2),
        jsonMs.toFixed(2),
        (pageMs / jsonMs).toFixed(2),
      ])
    }
    await stop(server.proc)
    return rows
  } finally {
    await t.close()
  }
}

/** What a browser downloads for the overview, gzipped, cold and warm; against the budget. */
async function firstPageBytes(work: string, postgres: Postgres): Promise<string[][]> {
  const t = await target('sqlite', work, postgres)
  try {
    const made = cli(
      ['user', 'create', '--email', 'bench@example.com', '--role', 'owner', '--password-stdin', '--config', t.config],
      PASSWORD,
    )
    if (made.code !== 0) throw new Error(`user create: ${made.stderr}`)
    const server = await startTimed(PARTNERD, ['serve', '--config', t.config])
    await api(server.url, 'POST', '/programs', { name: 'Bytes', currency: 'USD', destinationUrl: 'https://shop.example.com/' })
    const cookie = await signIn(server.url)
    // The bytes on the wire: Bun's fetch can leave the body compressed (decompress: false).
    const wire = async (path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(server.url + path, { headers: { 'accept-encoding': 'gzip', ...headers }, decompress: false } as RequestInit)
      return (await res.arrayBuffer()).byteLength
    }
    const html = await (await fetch(`${server.url}/admin`, { headers: { cookie } })).text()
    const htmlBytes = await wire('/admin', { cookie })
    const assets = [...html.matchAll(/(?:href|src|content)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)
    let js = 0
    let css = 0
    for (const path of assets) {
      const bytes = await wire(path)
      if (path.endsWith('.js')) js += bytes
      else css += bytes
    }
    await stop(server.proc)
    const kb = (n: number) => (n / 1024).toFixed(1)
    return [
      ['first console page, script, cold (KB gzipped, vs the 60 KB budget)', kb(js), kb(BUDGET.js), (js / BUDGET.js).toFixed(2)],
      ['first console page, style, cold (KB gzipped, vs the 30 KB budget)', kb(css), kb(BUDGET.css), (css / BUDGET.css).toFixed(2)],
      ['first console page, the page itself (KB as sent: pages are not compressed)', kb(htmlBytes), '—', '—'],
      ['first console page, warm: assets cached for a year (KB of script and style)', '0.0', kb(js + css), '0.00'],
    ]
  } finally {
    await t.close()
  }
}

export async function consoleBench(options: { work: string; postgres: Postgres }): Promise<string[][]> {
  const rows = await firstPageBytes(options.work, options.postgres)
  for (const dialect of ['sqlite', 'postgres'] as const) rows.push(...(await renderTimes(dialect, options.work, options.postgres)))
  return rows
}
