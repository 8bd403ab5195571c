/**
 * A bounded fuzz of every operation in /api/openapi.json, on both databases: for each, a request
 * built from its own schemas with fixtures' real ids, then that request broken every way a hostile
 * or careless client breaks one (wrong types, missing and extra fields, huge, deep, NUL and odd
 * Unicode strings, bad money, bad ids, bad cursors, bodies that are not JSON or not objects). Every
 * answer must be below 500 and, when refused, `{error, detail}`; a refused request must change no
 * row. The cases are fixed (no randomness), so a failure names a request that fails again. Every
 * built-in plugin is loaded, so its routes are fuzzed too.
 */
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from './support/databases.ts'
import { startReceiver } from './support/receiver.ts'
import { startTestServer, type TestServer } from './support/server.ts'

type Json = any
interface Operation {
  method: string
  path: string
  params: { name: string; in: 'query' | 'path'; schema: Json }[]
  body?: Json
  partnerOnly: boolean
}
interface Case {
  what: string
  path: string
  query?: Record<string, string>
  /** A value to send as JSON, or the raw text of the body. */
  body?: { json: unknown } | { raw: string | Uint8Array; type: string }
}

/** Strings a client should not be able to break anything with. */
const HOSTILE_STRINGS: [string, string][] = [
  ['empty', ''],
  ['huge', 'x'.repeat(100_000)],
  ['NUL', 'a\u0000b'],
  ['lone surrogate', 'a\ud800b'],
  ['bidi override', '\u202Eevil\u202C'],
  ['zero-width', 'a\u200Bb\uFEFF'],
  ['emoji', '👩🏽‍💻'],
  ['SQL', "' OR 1=1 --"],
  ['path', '../../etc/passwd'],
  ['control', '\u0007\u001b[31m'],
]
const BAD_MONEY = ['1e5', '-0.001', '12.345', '99999999999999999999999.99', ' 1.00', '1,00', 'NaN', 'Infinity', '0x10', '']
const BAD_IDS = ['none_such', 'a'.repeat(300), '%00', "'%20OR%201=1", '..%2F..%2Fetc', '%F0%9F%92%A9', '%E2%80%AE']
const BAD_QUERY = ['x'.repeat(5000), '\u0000', '-1', '1e999', '[]', '{"a":1}', 'not-a-cursor', 'eyJpZCI6eyJhIjoxfX0']
/** Values of every JSON type: each field gets those of the wrong types. */
const TYPED: [string, unknown][] = [
  ['string', 'text'],
  ['integer', 7],
  ['number', 1.5],
  ['boolean', true],
  ['null', null],
  ['array', []],
  ['object', {}],
]
const deep = (depth: number): unknown => (depth === 0 ? 'bottom' : { a: deep(depth - 1) })
const receiver = startReceiver()

describe.each(DIALECTS)('hostile input on %s', (dialect) => {
  let server: TestServer
  let partnerKey: string
  let operations: Operation[] = []
  const ids: Record<string, string> = {}
  let seq = 0

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await server.call(method, `/api${path}`, { key: server.adminKey, body })
    const data = await res.json()
    expect(res.status, `${method} ${path}: ${JSON.stringify(data)}`).toBeLessThan(300)
    return data
  }

  /**
   * What the server changes on its own, left out of the comparison: clicks and their counts (the
   * router), deliveries' progress (the worker), last use and idle renewal of credentials, the audit
   * log, rate-limit and sign-in attempt bookkeeping, and the migration tables.
   */
  const VOLATILE: Record<string, string[] | '*'> = {
    clicks: '*',
    click_counts: '*',
    audit_events: '*',
    magic_attempts: '*',
    jwt_refresh_tokens: '*',
    webhook_deliveries: [
      'status',
      'attempts',
      'next_attempt_at',
      'locked_until',
      'last_status',
      'last_error',
      'last_response',
      'delivered_at',
      'updated_at',
    ],
    webhook_endpoints: ['failing_since'],
    api_keys: ['last_used_at'],
    xauth_credentials: ['last_used_at'],
    sessions: ['last_seen_at', 'idle_expires_at'],
  }
  /** One statement that reads every table's rows as one text each, in a fixed order (built once, from the schema). */
  let snapshotSql = ''
  let tenantId = ''
  async function prepareSnapshot() {
    const tables = await server.runtime.database.db.introspection.getTables()
    const postgres = dialect === 'postgres'
    const parts: string[] = []
    for (const table of tables) {
      if (table.name.startsWith('partnerd_migrations') || table.name.startsWith('kysely_') || VOLATILE[table.name] === '*') continue
      const skip = (VOLATILE[table.name] as string[] | undefined) ?? []
      const columns = table.columns.map((c) => c.name).filter((c) => !skip.includes(c))
      const quoted = columns.map((c) => `"${c}"`).join(', ')
      parts.push(
        postgres
          ? `(select coalesce(json_agg(json_build_array(${quoted}) order by ${quoted})::text, '[]') from "${table.name}") as "${table.name}"`
          : `(select json_group_array(json_array(${quoted})) from (select ${quoted} from "${table.name}" order by ${quoted})) as "${table.name}"`,
      )
    }
    snapshotSql = `select ${parts.join(',\n')}`
    tenantId = (await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()).id
  }
  /** Every row the refused requests must leave alone (as the tenant sees them: RLS applies on PostgreSQL). */
  const snapshot = (): Promise<Record<string, string>> =>
    server.runtime.withTenant(tenantId, async ({ db }) => (await sql.raw<Record<string, string>>(snapshotSql).execute(db)).rows[0]!, {
      readOnly: true,
    })

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      server: { host: '127.0.0.1', port: 0, public_url: 'http://127.0.0.1:9' },
      webhooks: { allow_hosts: ['127.0.0.1'] },
      plugins: [
        { builtin: 'xauth' },
        { builtin: 'zapier' },
        { builtin: 'activepieces' },
        { builtin: 'stripe', config: { webhook_secret: 'whsec_fuzz' } },
        { builtin: 'magic' },
        { builtin: 'jwt', config: { signing_secret: 'fuzz signing secret, long enough to be one' } },
        {
          builtin: 'crm-webhooks',
          config: { sources: { crm: { kind: 'generic', secret: 'fuzz crm signing secret', user_id: 'customer' } } },
        },
        // A closed loopback port: nothing here signs in through it.
        {
          builtin: 'oauth',
          config: { providers: { github: { client_id: 'fuzz', client_secret: 'fuzz', enterprise_url: 'http://127.0.0.1:9' } } },
        },
      ],
    })
    const program = await admin('POST', '/programs', {
      name: 'Fuzz',
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://shop.example.com/',
      holdbackDays: 0,
      rules: [{ on: 'sale', percent: '10' }],
    })
    ids.program = program.id
    const partner = await admin('POST', '/partners', { email: 'fuzz@partners.example', name: 'Fuzz' })
    ids.partner = partner.id
    await admin('POST', `/programs/${program.id}/enrolments`, { partnerId: partner.id })
    ids.link = (await admin('POST', '/links', { partnerId: partner.id, programId: program.id, key: 'fuzz' })).id
    const click = await fetch(`${server.url}/r/fuzz`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 Firefox/140.0' } })
    ids.cref = new URL(click.headers.get('location')!).searchParams.get('cref')!
    await admin('POST', '/attribution/identify', { cref: ids.cref, userId: 'customer-1' })
    const sale = await admin('POST', '/attribution/events', {
      userId: 'customer-1',
      type: 'sale',
      value: '100.00',
      currency: 'USD',
      externalEventId: 'sale-1',
    })
    ids.commission = sale.commissions[0].id
    await admin('POST', `/commissions/${ids.commission}/approve`)
    ids.payout = (await admin('POST', '/payouts/run', {})).payouts[0].id
    await admin('POST', '/attribution/events', {
      userId: 'customer-1',
      type: 'sale',
      value: '20.00',
      currency: 'USD',
      externalEventId: 'sale-2',
    })
    const endpoint = await admin('POST', '/webhooks', { url: `${receiver.url}/hooks`, events: ['payout.paid'] })
    ids.webhook = endpoint.id
    ids.delivery = (await admin('POST', `/webhooks/${endpoint.id}/test`)).id
    ids.postback = (await admin('POST', `/partners/${partner.id}/postbacks`, { url: `${receiver.url}/postback?e={event_type}` })).id
    ids.coupon = (await admin('POST', `/partners/${partner.id}/coupons`, { programId: program.id, code: 'FUZZ10' })).id
    ids.key = (await admin('POST', '/api-keys', { name: 'spare', scopes: ['links:read'] })).id
    const partnerKeyRes = await admin('POST', '/api-keys', { name: 'partner', partnerId: partner.id })
    partnerKey = partnerKeyRes.key
    ids.authId = (await admin('POST', '/xauth/credentials', { kind: 'customer', name: 'spare', scopes: ['links:read'] })).authId
    const member = await admin('POST', '/members', { email: 'member@example.com', role: 'viewer' })
    ids.userId = member.userId

    const doc = await (await server.call('GET', '/api/openapi.json')).json()
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
      for (const [method, op] of Object.entries(item)) {
        operations.push({
          method: method.toUpperCase(),
          path,
          params: op.parameters ?? [],
          body: op.requestBody?.content?.['application/json']?.schema,
          partnerOnly: op['x-partner-only'] === true,
        })
      }
    }
    // Sign-out and revocations end what later cases use: run them last.
    const last = (o: Operation) => Number(/sign-out|\/revoke$|^DELETE/.test(`${o.method === 'DELETE' ? 'DELETE' : ''}${o.path}`))
    operations = operations.sort((a, b) => last(a) - last(b))
    await prepareSnapshot()
  })
  afterAll(() => server.stop())

  /** A real id for a path parameter, by the collection its segment names. */
  function idFor(path: string, name: string): string {
    const segment = path
      .slice(0, path.indexOf(`{${name}}`))
      .split('/')
      .filter(Boolean)
      .pop()
    if (name === 'partnerId') return ids.partner!
    if (name === 'deliveryId') return ids.delivery!
    if (name === 'postbackId') return ids.postback!
    if (name === 'userId') return ids.userId!
    if (name === 'authId') return ids.authId!
    if (name === 'linkKey') return 'fuzz'
    if (name === 'provider') return 'github'
    if (name === 'source') return 'crm'
    if (name === 'event') return 'commission.accrued'
    const kind: Record<string, string> = {
      'api-keys': 'key',
      programs: 'program',
      partners: 'partner',
      links: 'link',
      commissions: 'commission',
      payouts: 'payout',
      webhooks: 'webhook',
      hooks: 'none',
    }
    return ids[kind[segment ?? ''] ?? ''] ?? 'none_such'
  }

  /** A plausible value for a schema: the fixtures' ids, loopback URLs, decimal money, fresh emails. */
  function sample(schema: Json, name = ''): unknown {
    if (!schema) return undefined
    if (schema.anyOf ?? schema.oneOf) {
      const options = (schema.anyOf ?? schema.oneOf) as Json[]
      return sample(options.find((o) => o.type !== 'null' && o.format !== 'integer') ?? options[0], name)
    }
    if (schema.const !== undefined) return schema.const
    if (schema.enum) return schema.enum[0]
    switch (schema.type) {
      case 'object': {
        const out: Record<string, unknown> = {}
        for (const [key, child] of Object.entries((schema.properties ?? {}) as Record<string, Json>)) {
          if ((schema.required ?? []).includes(key)) out[key] = sample(child, key)
        }
        return out
      }
      case 'array':
        return Array.from({ length: schema.minItems ?? 1 }, () => sample(schema.items, name))
      case 'integer':
      case 'number':
        return schema.minimum ?? 1
      case 'boolean':
        return true
      default: {
        if (/url$/i.test(name)) return `${receiver.url}/fuzz`
        if (/email/i.test(name)) return `fuzz-${++seq}@example.com`
        if (name === 'currency') return 'USD'
        if (/(value|amount|percent|minimum)$/i.test(name)) return '10.00'
        if (name === 'cref') return ids.cref
        if (/Id$/.test(name)) return ids[name.replace(/Id$/, '')] ?? 'none_such'
        if (schema.format === 'date-time' || name === 'ts') return new Date().toISOString()
        if (schema.pattern === '^[A-Z]{3}$') return 'USD'
        return `fuzz-${++seq}`
      }
    }
  }

  /** The operation's cases: its plausible request first, then each way of breaking it. */
  function casesOf(op: Operation): Case[] {
    const pathOf = (bad?: [string, string]) =>
      op.path.replace(/\{(\w+)\}/g, (_, name: string) => (bad && bad[0] === name ? bad[1] : idFor(op.path, name)))
    const cases: Case[] = []
    const base: Case = { what: 'plausible', path: pathOf(), body: op.body ? { json: sample(op.body) } : undefined }
    cases.push(base)
    for (const param of op.params.filter((p) => p.in === 'path')) {
      for (const bad of BAD_IDS) cases.push({ ...base, what: `path ${param.name}=${bad.slice(0, 20)}`, path: pathOf([param.name, bad]) })
    }
    for (const param of op.params.filter((p) => p.in === 'query')) {
      for (const bad of BAD_QUERY) cases.push({ ...base, what: `query ${param.name}=${bad.slice(0, 20)}`, query: { [param.name]: bad } })
    }
    if (!op.body && op.method === 'GET') return cases
    for (const [what, raw] of [
      ['not JSON', '{"a":'],
      ['JSON null', 'null'],
      ['JSON array', '[]'],
      ['JSON number', '123'],
      ['JSON string', '"text"'],
      ['huge number', '{"a":1e999}'],
      ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ] as [string, string | Uint8Array][]) {
      cases.push({ ...base, what: `body ${what}`, body: { raw, type: 'application/json' } })
    }
    cases.push({
      ...base,
      what: 'body as text/plain',
      body: { raw: JSON.stringify(base.body && 'json' in base.body ? base.body.json : {}), type: 'text/plain' },
    })
    cases.push({ ...base, what: 'deep body', body: { json: deep(200) } })
    const plausible = base.body && 'json' in base.body ? base.body.json : undefined
    if (!op.body || typeof plausible !== 'object' || plausible === null || Array.isArray(plausible)) return cases
    const fields = Object.entries((op.body.properties ?? {}) as Record<string, Json>).slice(0, 12)
    const withField = (name: string, value: unknown) => ({ json: { ...(plausible as object), [name]: value } })
    cases.push({ ...base, what: 'extra field', body: withField('notAField', 1) })
    cases.push({
      ...base,
      what: '__proto__ field',
      body: { raw: `{"__proto__":{"admin":true},${JSON.stringify(plausible).slice(1)}`.replace(',}', '}'), type: 'application/json' },
    })
    for (const required of op.body.required ?? []) {
      const { [required]: _, ...rest } = plausible as Record<string, unknown>
      cases.push({ ...base, what: `missing ${required}`, body: { json: rest } })
    }
    for (const [name, schema] of fields) {
      const types = new Set([schema.type, ...((schema.anyOf ?? []) as Json[]).map((s) => s.type)].filter(Boolean))
      for (const [type, value] of TYPED) {
        if (!types.has(type) && !(type === 'integer' && types.has('number')))
          cases.push({ ...base, what: `${name} as ${type}`, body: withField(name, value) })
      }
      if (types.has('string')) {
        for (const [what, value] of HOSTILE_STRINGS) cases.push({ ...base, what: `${name} ${what}`, body: withField(name, value) })
        if (/(value|amount|percent|minimum)$/i.test(name)) {
          for (const money of BAD_MONEY) cases.push({ ...base, what: `${name} money ${money}`, body: withField(name, money) })
        }
      }
      cases.push({ ...base, what: `${name} deep`, body: withField(name, deep(100)) })
    }
    return cases
  }

  async function send(op: Operation, c: Case): Promise<Response> {
    const query = c.query ? `?${new URLSearchParams(c.query)}` : ''
    const headers: Record<string, string> = { authorization: `Bearer ${op.partnerOnly ? partnerKey : server.adminKey}` }
    let body: BodyInit | undefined
    if (c.body && 'json' in c.body) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(c.body.json)
    } else if (c.body) {
      headers['content-type'] = c.body.type
      body = c.body.raw as BodyInit
    }
    return fetch(server.url + c.path + query, { method: op.method, headers, body, redirect: 'manual' })
  }

  it('answers every broken request with a 4xx {error, detail}, and changes nothing for it', async () => {
    const failures: string[] = []
    let total = 0
    let before = await snapshot()
    for (const op of operations) {
      if (op.path === '/metrics' || op.path === '/api/openapi.json') continue
      // A read cannot write (its transaction is read-only): its cases are compared together, a write's one by one.
      const read = op.method === 'GET'
      for (const c of casesOf(op)) {
        total++
        const res = await send(op, c)
        const text = await res.text()
        const label = `${op.method} ${op.path} [${c.what}]`
        if (res.status >= 500) failures.push(`${label}: ${res.status} ${text.slice(0, 200)}`)
        if (res.status >= 400) {
          let body: Json
          try {
            body = JSON.parse(text)
          } catch {}
          if (typeof body?.error !== 'string' || typeof body?.detail !== 'string')
            failures.push(`${label}: ${res.status} is not {error, detail}: ${text.slice(0, 120)}`)
        }
        if (read) continue
        const after = await snapshot()
        if (res.status >= 400) {
          const changed = Object.keys(after).filter((table) => after[table] !== before[table])
          if (changed.length > 0) failures.push(`${label}: refused with ${res.status}, yet changed ${changed.join(', ')}`)
        }
        before = after
      }
      if (read) {
        const after = await snapshot()
        const changed = Object.keys(after).filter((table) => after[table] !== before[table])
        if (changed.length > 0) failures.push(`${op.method} ${op.path}: a read changed ${changed.join(', ')}`)
        before = after
      }
    }
    expect(failures).toEqual([])
    // Bounded, and not trivially small: every operation was tried many ways.
    expect(total).toBeGreaterThan(operations.length * 10)
    expect(total).toBeLessThan(20_000)
    // Some thousands of requests, each write followed by a snapshot: a minute at most on this machine.
  }, 180_000)
})
