/**
 * The click router and the tracking edge: open-redirect corpus, crawlers, velocity flags and the hard
 * cap, multi-tenant paths, identify's CORS, and that every redirect answered is a click stored. The
 * router is answered straight from Bun's router (http/app.ts `nativeRoutes`) and its clicks are stored
 * on a thread of their own (links/click-thread.ts): both are checked over real HTTP here.
 */
import { Database as Sqlite } from 'bun:sqlite'
import { randomBytes } from 'node:crypto'
import { copyFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDatabase } from '../src/db/database.ts'
import { openSqlite } from '../src/db/sqlite-connection.ts'
import { CLICK_COLUMNS, type ClickRow, clickValues } from '../src/links/click-columns.ts'
import { ClickWriter } from '../src/links/click-writer.ts'
import { allowedDeepLink } from '../src/links/destination.ts'
import { createTenant } from '../src/tenants/service.ts'
import { DIALECTS, databaseSection, tempDir } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const RULES = { destinationUrl: 'https://good.com/start', deepLinkHosts: ['docs.good.com'] }

/** notes/security.md: none of these may leave the allow-list. */
const OPEN_REDIRECT_CORPUS = [
  '//evil.com',
  '///evil.com',
  '/\\evil.com',
  '\\\\evil.com',
  'https:evil.com',
  'https:/evil.com',
  'https://good.com@evil.com',
  'https://good.com:pass@evil.com/',
  'https://evil.com#@good.com',
  'https://evil.com?@good.com',
  'https://evil.com\\@good.com',
  'https://good.com.evil.com',
  'https://evilgood.com',
  'https://evil.com/https://good.com',
  'javascript:alert(1)//good.com',
  'JaVaScRiPt:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  '%2F%2Fevil.com',
  'https%3A%2F%2Fevil.com',
  'https://good.com%0d%0aLocation:%20https://evil.com',
  'https://evil.com%0d%0a.good.com',
  'https://evil.com\r\nX: good.com',
  'https://gооd.com/', // Cyrillic о: a look-alike
  'https://ɡood.com/', // Latin small script g
  'ftp://good.com/',
  'https://good.com.',
]

describe('deep-link allow-list', () => {
  it.each(OPEN_REDIRECT_CORPUS)('refuses %j, or keeps it on an allowed host', (candidate) => {
    const allowed = allowedDeepLink(candidate, RULES)
    if (allowed === undefined) return
    const host = new URL(allowed).hostname
    expect(['good.com', 'docs.good.com']).toContain(host)
    expect(allowed).not.toMatch(/[\r\n]/)
  })

  it('follows deep links to the destination host and the allow-listed hosts only', () => {
    expect(allowedDeepLink('https://good.com/pricing?plan=pro#top', RULES)).toBe('https://good.com/pricing?plan=pro#top')
    expect(allowedDeepLink('https://DOCS.good.com/guide', RULES)).toBe('https://docs.good.com/guide')
    expect(allowedDeepLink('https://api.good.com/', RULES)).toBeUndefined() // subdomains are not implied
  })
})

describe.each(DIALECTS)('click router on %s (multi-tenant)', (dialect) => {
  const adminKey = randomBytes(32).toString('hex')
  let server: TestServer
  let linkKey: string
  const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    server.call(method, `/api/t/acme${path}`, { key: adminKey, body, headers })
  const follow = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 Safari/605', ...headers } })
  const clickCount = async () => {
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').where('slug', '=', 'acme').executeTakeFirstOrThrow()
    return server.runtime.withTenant(tenant.id, async ({ db }) =>
      Number(
        (
          await db
            .selectFrom('clicks')
            .select((eb) => eb.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      ),
    )
  }

  /** Runs SQL as the schema's owner, beside the server. */
  const asOwner = async (text: string) => {
    const { location } = server.runtime.database
    if ('sqlite' in location) {
      const db = new Sqlite(location.sqlite.path)
      db.exec('PRAGMA busy_timeout = 5000')
      db.exec(text)
      db.close()
      return
    }
    const client = new pg.Client({ connectionString: server.runtime.config.database.postgres!.migration_url })
    await client.connect()
    await client.query(text)
    await client.end()
  }

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      mode: 'multi',
      server: { host: '127.0.0.1', port: 0, trust_proxy: true },
      auth: { admin_api_keys: adminKey },
      tracking: { velocity_per_minute: 3, max_per_minute: 6 },
    })
    await createTenant(server.runtime.database.db, server.runtime.bus, server.runtime.secrets, { slug: 'acme' })
    await createTenant(server.runtime.database.db, server.runtime.bus, server.runtime.secrets, { slug: 'globex' })
    const program = await (
      await api('POST', '/programs', {
        name: 'P',
        currency: 'USD',
        status: 'active',
        destinationUrl: 'https://good.com/start',
        deepLinkHosts: ['docs.good.com'],
      })
    ).json()
    const partner = await (await api('POST', '/partners', { email: 'router@example.com' })).json()
    linkKey = (await (await api('POST', '/links', { partnerId: partner.id, programId: program.id, key: 'go-now' })).json()).key
    const deep = await api('POST', '/links', { partnerId: partner.id, programId: program.id, destinationUrl: 'https://evil.com/' })
    expect(deep.status).toBe(400)
    expect(await deep.json()).toMatchObject({ error: 'destination_not_allowed' })
  })
  afterAll(() => server.stop())

  it('redirects /r/<slug>/<key> with cref, never to a host off the allow-list, and stores each click it answers', async () => {
    const before = await clickCount()
    let redirects = 0
    for (const to of [...OPEN_REDIRECT_CORPUS, 'https://docs.good.com/guide']) {
      const res = await follow(`/r/acme/${linkKey}?to=${encodeURIComponent(to)}`, { 'x-forwarded-for': `192.0.2.${redirects}` })
      expect(res.status, to).toBe(302)
      redirects++
      const location = new URL(res.headers.get('location')!)
      expect(['good.com', 'docs.good.com'], to).toContain(location.hostname)
      expect(location.searchParams.get('cref')).toMatch(/^clk_/)
    }
    expect(await clickCount()).toBe(before + redirects)
  })

  it('answers 404 for unknown links, other tenants, and a slug-less path in multi mode', async () => {
    for (const path of ['/r/acme/nope', '/r/globex/go-now', '/r/nobody/go-now', '/r/go-now', '/r/acme/..%2Fgo-now']) {
      const res = await follow(path)
      expect(res.status, path).toBe(404)
      expect((await res.json()).error).toMatch(/not_found/)
    }
  })

  it('stores a sub-source carrying a NUL without it, rather than fail the batch its click shares', async () => {
    // PostgreSQL refuses NUL in text: one such click would fail every click committed with it.
    const [poisoned, ...others] = await Promise.all(
      ['a%00b', 'c', 'd'].map((sub, i) => follow(`/r/acme/${linkKey}?sub=${sub}`, { 'x-forwarded-for': `192.0.2.${200 + i}` })),
    )
    expect([poisoned!.status, ...others.map((r) => r.status)]).toEqual([302, 302, 302])
    const cref = new URL(poisoned!.headers.get('location')!).searchParams.get('cref')!
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').where('slug', '=', 'acme').executeTakeFirstOrThrow()
    const click = await server.runtime.withTenant(tenant.id, ({ db }) =>
      db.selectFrom('clicks').select('sub_source').where('id', '=', cref).executeTakeFirstOrThrow(),
    )
    expect(click.sub_source).toBe('ab')
  })

  it('counts a visitor behind the proxy by the address the proxy appended, whatever X-Forwarded-For they wrote', async () => {
    // The proxy appends the address it saw to the visitor's own header: a new forged entry each
    // click must not make a new visitor of them.
    const statuses: number[] = []
    for (let i = 0; i < 8; i++) {
      const res = await follow(`/r/acme/${linkKey}`, { 'x-forwarded-for': `203.0.113.${i}, 198.51.100.50` })
      statuses.push(res.status)
    }
    expect(statuses).toEqual([302, 302, 302, 302, 302, 302, 429, 429])
  })

  it('counts the IPv6 addresses of one /64 as one visitor, who cannot escape the cap by changing address', async () => {
    const statuses: number[] = []
    for (let i = 1; i <= 8; i++) {
      const res = await follow(`/r/acme/${linkKey}`, { 'x-forwarded-for': `2001:db8:7:7::${i.toString(16)}` })
      statuses.push(res.status)
    }
    expect(statuses).toEqual([302, 302, 302, 302, 302, 302, 429, 429])
    // Another /64 is another visitor.
    expect((await follow(`/r/acme/${linkKey}`, { 'x-forwarded-for': '2001:db8:7:8::1' })).status).toBe(302)
  })

  it('gives its answers a request id and counts them by route, like every route', async () => {
    const echoed = await follow(`/r/acme/${linkKey}`, { 'x-request-id': 'click-trace-1', 'x-forwarded-for': '198.51.100.7' })
    expect(echoed.status).toBe(302)
    expect(echoed.headers.get('x-request-id')).toBe('click-trace-1')
    const missing = await follow('/r/acme/nope', { 'x-request-id': 'a b<script>' })
    expect(missing.status).toBe(404)
    expect(missing.headers.get('x-request-id')).toMatch(/^[0-9A-Z]{26}$/)
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    expect(metrics).toMatch(/partnerd_http_requests_total\{method="GET",route="\/r\/:slug\/:linkKey",status="302"\} [1-9]/)
    expect(metrics).toMatch(/partnerd_http_requests_total\{method="GET",route="\/r\/:slug\/:linkKey",status="404"\} [1-9]/)
    expect(metrics).toMatch(/partnerd_http_request_duration_seconds_count\{method="GET",route="\/r\/:slug\/:linkKey"\} [1-9]/)
  })

  it('answers 500 and stores nothing when a click cannot be stored, and stores the next one', async () => {
    await asOwner('alter table clicks rename to clicks_away')
    let failed: Response
    try {
      failed = await follow(`/r/acme/${linkKey}`, { 'x-forwarded-for': '198.51.100.8' })
    } finally {
      await asOwner('alter table clicks_away rename to clicks')
    }
    expect(failed.status).toBe(500)
    expect(await failed.json()).toMatchObject({ error: 'internal_error' })
    expect(failed.headers.get('location')).toBeNull()
    expect(failed.headers.get('set-cookie')).toBeNull()
    const before = await clickCount()
    const next = await follow(`/r/acme/${linkKey}`, { 'x-forwarded-for': '198.51.100.9' })
    expect(next.status).toBe(302)
    expect(await clickCount()).toBe(before + 1)
  })

  it('does not count crawlers and link previews, but still sends them on', async () => {
    const before = await clickCount()
    for (const ua of [
      'Googlebot/2.1 (+http://www.google.com/bot.html)',
      'facebookexternalhit/1.1',
      'Slackbot-LinkExpanding 1.0',
      'WhatsApp/2.23',
    ]) {
      const res = await follow(`/r/acme/${linkKey}`, { 'user-agent': ua })
      expect(res.status).toBe(302)
      expect(res.headers.get('location')).toBe('https://good.com/start')
      expect(res.headers.get('set-cookie')).toBeNull()
    }
    expect(await clickCount()).toBe(before)
  })
})

/** An active program, a partner of `email` and a link of theirs, made through a single-mode server's API. */
async function newLink(server: TestServer, email: string): Promise<{ key: string }> {
  const key = server.adminKey
  const body = { name: 'P', currency: 'EUR', status: 'active', destinationUrl: 'https://shop.example.com/' }
  const program = await (await server.call('POST', '/api/programs', { key, body })).json()
  const partner = await (await server.call('POST', '/api/partners', { key, body: { email } })).json()
  return (await server.call('POST', '/api/links', { key, body: { partnerId: partner.id, programId: program.id } })).json()
}

describe.each(DIALECTS)('click limits on %s', (dialect) => {
  let server: TestServer
  beforeAll(async () => {
    // Behind a proxy, so that a test may speak for other addresses; without X-Forwarded-For a request
    // is counted by its own.
    server = await startTestServer(dialect, {
      server: { host: '127.0.0.1', port: 0, trust_proxy: true },
      tracking: { velocity_per_minute: 3, max_per_minute: 6, identify_per_minute: 5 },
    })
  })
  afterAll(() => server.stop())

  it('flags a burst from one address, then answers 429 with Retry-After past the hard cap', async () => {
    const link = await newLink(server, 'burst@example.com')
    const statuses: number[] = []
    const crefs: string[] = []
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual' })
      statuses.push(res.status)
      if (res.status === 302) crefs.push(new URL(res.headers.get('location')!).searchParams.get('cref')!)
      else {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
        expect(await res.json()).toMatchObject({ error: 'rate_limited' })
      }
    }
    expect(statuses).toEqual([302, 302, 302, 302, 302, 302, 429, 429])
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()
    const rows = await server.runtime.withTenant(tenant.id, ({ db }) =>
      db.selectFrom('clicks').select(['id', 'flag']).where('id', 'in', crefs).execute(),
    )
    // In the order the clicks were answered: click ids made in one millisecond do not sort by time.
    const flagOf = new Map(rows.map((row) => [row.id, row.flag]))
    expect(crefs.map((cref) => flagOf.get(cref))).toEqual([null, null, null, 'velocity', 'velocity', 'velocity'])
  })

  it('lets identify be called from the programs’ hosts only (CORS), and rate-limits it', async () => {
    const key = server.adminKey
    await server.call('POST', '/api/programs', { key, body: { name: 'Q', currency: 'EUR', destinationUrl: 'https://app.example.net/' } })
    const preflight = await fetch(`${server.url}/api/attribution/identify`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.net', 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.net')
    const foreign = await fetch(`${server.url}/api/attribution/identify`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    })
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull()
    const refused = await server.call('POST', '/api/attribution/identify', {
      body: { cref: 'clk_x', userId: 'u' },
      headers: { origin: 'https://evil.example' },
    })
    expect(refused.status).toBe(403)
    expect(await refused.json()).toMatchObject({ error: 'origin_not_allowed' })
    const bad = await server.call('POST', '/api/attribution/identify', { body: { userId: 'u' } })
    expect(bad.status).toBe(400)
    // Two calls above counted against this address's budget of five a minute.
    const statuses: number[] = []
    for (let i = 0; i < 4; i++)
      statuses.push((await server.call('POST', '/api/attribution/identify', { body: { cref: 'clk_x', userId: 'u' } })).status)
    expect(statuses).toEqual([404, 404, 404, 429])
  })

  it('counts identify calls from the IPv6 addresses of one /64 together', async () => {
    const identify = (address: string) =>
      server.call('POST', '/api/attribution/identify', { body: { cref: 'clk_x', userId: 'u' }, headers: { 'x-forwarded-for': address } })
    const statuses: number[] = []
    for (let i = 1; i <= 6; i++) statuses.push((await identify(`2001:db8:9:9::${i.toString(16)}`)).status)
    expect(statuses).toEqual([404, 404, 404, 404, 404, 429])
    // Another /64 is another caller.
    expect((await identify('2001:db8:9:a::1')).status).toBe(404)
  })
})

describe('the click writer on sqlite', () => {
  let server: TestServer

  beforeAll(async () => {
    // The stream of clicks below comes from one address.
    server = await startTestServer('sqlite', { tracking: { velocity_per_minute: 1_000_000, max_per_minute: 1_000_000 } })
  })
  afterAll(() => server.stop())

  it('syncs every commit by default: an answered click or write survives a power cut, not only a crash', async () => {
    const { database } = server.runtime
    if (!('sqlite' in database.location)) throw new Error('expected SQLite')
    expect(database.location.sqlite.synchronous).toBe('full')
    // PRAGMA synchronous: 2 is FULL, 1 NORMAL. The serving connection's, and a connection opened as
    // the click thread and the checkpoint thread open theirs (from the same location).
    expect((await sql<{ synchronous: number }>`pragma synchronous`.execute(database.db)).rows).toEqual([{ synchronous: 2 }])
    const opened = openSqlite(database.location.sqlite)
    try {
      expect(opened.query('pragma synchronous').get()).toEqual({ synchronous: 2 })
    } finally {
      opened.close()
    }
  })

  it('checkpoints the WAL on a thread of its own: never on the connection that serves requests', async () => {
    const { database } = server.runtime
    expect(database.walAutocheckpoint!()).toBe(0)

    const key = server.adminKey
    const link = await newLink(server, 'wal@example.com')
    for (let i = 0; i < 3; i++) expect((await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual' })).status).toBe(302)
    // Written after the clicks, by the serving connection.
    const late = await (await server.call('POST', '/api/partners', { key, body: { email: 'late@example.com' } })).json()

    // The checkpoint thread copies the WAL into the database file within a tenth of a second. A copy
    // of the file alone, without its WAL, then holds the clicks and the API's writes.
    await Bun.sleep(1000)
    const copy = join(tempDir(), 'checkpointed.db')
    copyFileSync(sqlitePath(server), copy)
    const file = new Sqlite(copy, { readonly: true })
    try {
      expect(file.query('select count(*) as n from clicks').get()).toEqual({ n: 3 })
      expect(file.query('select id from partners where id = ?').get(late.id)).toEqual({ id: late.id })
    } finally {
      file.close()
    }
  })

  it('keeps the WAL short under a steady stream of clicks', async () => {
    // Clicks that never pause: each checkpoint pass leaves frames behind, and only the click thread
    // copying them lets the WAL start over. Without that, the WAL holds every click written: 7-8 times
    // the database file, measured. With it, a few passes' worth: 0.3-0.45 times, and up to 1.0 on a
    // loaded machine, whose checkpoint thread gets fewer turns.
    const link = await newLink(server, 'stream@example.com')
    const until = Date.now() + 3000
    let answered = 0
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (Date.now() < until) {
          expect((await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual' })).status).toBe(302)
          answered++
        }
      }),
    )
    const path = sqlitePath(server)
    const wal = statSync(`${path}-wal`).size
    const file = statSync(path).size
    expect(answered).toBeGreaterThan(1000)
    expect(wal, `a WAL of ${wal} bytes beside a database of ${file}, after ${answered} clicks`).toBeLessThan(2 * file)
  })
})

function sqlitePath(server: TestServer): string {
  const { location } = server.runtime.database
  if (!('sqlite' in location)) throw new Error('expected SQLite')
  return location.sqlite.path
}

describe('the click writer and its thread', () => {
  // A server of its own: a second writer on a database turns its serving connection's checkpoints
  // back on when it stops, which the WAL test above must not see. With synchronous normal, under
  // which small batches may be committed without the thread.
  let server: TestServer

  beforeAll(async () => {
    const { sqlite } = (await databaseSection('sqlite')) as { sqlite: Record<string, unknown> }
    server = await startTestServer('sqlite', { database: { sqlite: { ...sqlite, synchronous: 'normal' } } })
  })
  afterAll(() => server.stop())

  const failingThread = new URL('./support/failing-click-thread.ts', import.meta.url).href
  const click = (id: string, userAgent: string): ClickRow => ({
    id,
    tenant_id: 'ten_thread',
    link_id: null,
    partner_id: 'partner',
    program_id: 'prg_thread',
    source: 'link',
    ip_hash: null,
    user_agent: userAgent,
    referer: null,
    sub_source: null,
    flag: null,
    created_at: new Date().toISOString(),
  })
  const storedIds = async (prefix: string) =>
    (await server.runtime.database.db.selectFrom('clicks').select('id').where('id', 'like', `${prefix}%`).orderBy('id').execute()).map(
      (row) => row.id,
    )

  it("writes a click's values in the order of its columns", () => {
    const distinct = Object.fromEntries(CLICK_COLUMNS.map((column) => [column, `value of ${column}`])) as unknown as ClickRow
    expect(clickValues(distinct)).toEqual(CLICK_COLUMNS.map((column) => `value of ${column}`))
  })

  it('commits a small batch itself while its thread is idle, without the thread', async () => {
    const { database, log } = server.runtime
    // The thread would die of this click: the click is stored all the same, so the thread never saw it.
    const writer = new ClickWriter(database, log, { thread: failingThread })
    try {
      // Long enough for the writer's checkpoint thread to start and take the WAL's count: the WAL
      // holds frames the server's own checkpoints copied, which are no reason to send a batch over.
      await Bun.sleep(250)
      await writer.write(click('clk_here_1', 'crash'))
    } finally {
      await writer.close()
    }
    expect(await storedIds('clk_here_')).toEqual(['clk_here_1'])
  })

  it('with synchronous full too, commits a batch itself while its thread is idle', async () => {
    const { database, log } = server.runtime
    if (!('sqlite' in database.location)) throw new Error('expected SQLite')
    const full = { ...database, location: { sqlite: { ...database.location.sqlite, synchronous: 'full' as const } } }
    // The thread would die of this click: stored all the same, so the thread never saw it.
    const writer = new ClickWriter(full, log, { thread: failingThread })
    try {
      await Bun.sleep(250) // as above: the checkpoint thread's first count is no reason to send a batch over
      await writer.write(click('clk_full_1', 'crash'))
    } finally {
      await writer.close()
    }
    expect(await storedIds('clk_full_')).toEqual(['clk_full_1'])
  })

  it("hands a batch larger than a flood's threshold to its thread, so the requests it serves do not wait on that commit", async () => {
    const { database, log } = server.runtime
    const writer = new ClickWriter(database, log, { thread: failingThread })
    try {
      await Bun.sleep(250) // as above
      // 65 clicks read in one turn make one batch, over the 64 committed here: the thread takes it
      // and dies of the crash click, so none of them is stored.
      const writes = Array.from({ length: 65 }, (_, i) => writer.write(click(`clk_flood_${i}`, i === 0 ? 'crash' : 'Mozilla/5.0')))
      const settled = await Promise.allSettled(writes)
      expect(settled.every((s) => s.status === 'rejected')).toBe(true)
    } finally {
      await writer.close()
    }
    expect(await storedIds('clk_flood_')).toEqual([])
  })

  it('stops its checkpoint thread on close even after its click thread died, so nothing reaches a closed database', async () => {
    // A serving connection of its own: the server's writer switches the server's connection's
    // checkpoints off too. The checkpoint thread switches this one's off while it runs.
    const own = await createDatabase({ database: server.runtime.config.database, sqlitePath: sqlitePath(server), role: 'serving' })
    try {
      if (!('sqlite' in own.location)) throw new Error('expected SQLite')
      const full = { ...own, location: { sqlite: { ...own.location.sqlite, synchronous: 'full' as const } } }
      // Every batch to the thread, so that this one dies of its click.
      const writer = new ClickWriter(full, server.runtime.log, { thread: failingThread, commitHere: false })
      await Bun.sleep(250)
      expect(own.walAutocheckpoint!()).toBe(0)
      await expect(writer.write(click('clk_dead_1', 'crash'))).rejects.toThrow(/click writer's thread failed/)
      await writer.close()
      expect(own.walAutocheckpoint!()).toBe(1000) // the checkpoint thread was stopped: SQLite's own checkpoints again
    } finally {
      await own.close()
    }
  })

  it('hands a batch that finds the database locked to its thread, which waits for the lock', async () => {
    const { database, log } = server.runtime
    if (!('sqlite' in database.location)) throw new Error('expected SQLite')
    const writer = new ClickWriter(database, log)
    const holder = new Sqlite(database.location.sqlite.path)
    try {
      holder.exec('begin immediate')
      let committed = false
      const written = writer.write(click('clk_locked_1', 'browser')).then(() => (committed = true))
      // The serving thread goes on answering (its own connection never waits for the lock) …
      const slept = performance.now()
      await Bun.sleep(200)
      expect(performance.now() - slept).toBeLessThan(1000)
      expect((await fetch(`${server.url}/health`)).status).toBe(200)
      // … and the click is answered only once it is stored.
      expect(committed).toBe(false)
      holder.exec('commit')
      await written
      expect(await storedIds('clk_locked_')).toEqual(['clk_locked_1'])
    } finally {
      if (holder.inTransaction) holder.exec('rollback')
      holder.close()
      await writer.close()
    }
  })

  it('gives way to a transaction of the serving connection: the batch in flight ends first, the next waits', async () => {
    const { database, log } = server.runtime
    if (!('sqlite' in database.location)) throw new Error('expected SQLite')
    const writer = new ClickWriter(database, log, { commitHere: false })
    const holder = new Sqlite(database.location.sqlite.path)
    let endTurn: (() => void) | undefined
    try {
      // A batch in flight: the thread waits for the lock another connection holds.
      holder.exec('begin immediate')
      const first = writer.write(click('clk_turn_1', 'browser'))
      await Bun.sleep(50)
      const turn = database.writeTurns!.take().then((end) => (endTurn = end))
      await Bun.sleep(100)
      expect(endTurn).toBeUndefined()
      holder.exec('commit')
      await first
      await turn
      // While the turn is held, clicks gather here rather than go to the thread.
      let stored = false
      const second = writer.write(click('clk_turn_2', 'browser')).then(() => (stored = true))
      await Bun.sleep(200)
      expect(stored).toBe(false)
      expect(await storedIds('clk_turn_')).toEqual(['clk_turn_1'])
      endTurn!()
      await second
      expect(await storedIds('clk_turn_')).toEqual(['clk_turn_1', 'clk_turn_2'])
    } finally {
      endTurn?.()
      if (holder.inTransaction) holder.exec('rollback')
      holder.close()
      await writer.close()
    }
  })

  it('fails the batch the thread held, and the next click starts a new thread', async () => {
    const { database, log } = server.runtime
    // Every batch to the thread: single clicks would otherwise be committed without it.
    const writer = new ClickWriter(database, log, { thread: failingThread, commitHere: false })
    try {
      await writer.write(click('clk_thread_1', 'browser'))
      await expect(writer.write(click('clk_thread_2', 'crash'))).rejects.toThrow(/click writer's thread failed/)
      await writer.write(click('clk_thread_3', 'browser'))
    } finally {
      await writer.close()
    }
    expect(await storedIds('clk_thread_')).toEqual(['clk_thread_1', 'clk_thread_3'])
  })
})
