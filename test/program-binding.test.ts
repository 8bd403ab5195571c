/**
 * A key bound to one program stays inside it, on every route of the OpenAPI document it may call,
 * the plugins' included (Zapier's and ActivePieces' actions and triggers once attributed and paid a
 * sale in another program, and listed its commissions). Each such route is called with the other
 * program's ids wherever the request names one; then no answer may carry an id of the other program,
 * and none of its rows may have changed. A route whose request this table cannot fill fails the suite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hasScopes } from '../src/auth/scopes.ts'
import { DIALECTS } from './support/databases.ts'
import { startReceiver } from './support/receiver.ts'
import { startTestServer, type TestServer } from './support/server.ts'

type Json = Record<string, any>
interface Operation {
  method: string
  path: string
  scopes: string[]
  body?: { required?: string[]; properties?: Record<string, Json> }
  query: string[]
}

const BOUND_SCOPES = ['events:write', 'partners:read', 'partners:write', 'commissions:read', 'links:read', 'links:write']
const receiver = startReceiver()

describe.each(DIALECTS)('a program-bound key on %s', (dialect) => {
  let server: TestServer
  let boundKey: string
  let operations: Operation[] = []
  /** Program 1 is the key's; program 2's ids must never reach it. */
  const own: Json = {}
  const foreign: Json = {}
  let seq = 0

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await server.call(method, `/api${path}`, { key: server.adminKey, body })
    const data = await res.json()
    expect(res.status, `${method} ${path}: ${JSON.stringify(data)}`).toBeLessThan(300)
    return data
  }
  /** A visitor follows the link and the site names them: a customer with a click in the link's program. */
  const customerOf = async (linkKey: string, userId: string) => {
    const res = await fetch(`${server.url}/r/${linkKey}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 Firefox/140.0' } })
    const cref = new URL(res.headers.get('location')!).searchParams.get('cref')!
    await admin('POST', '/attribution/identify', { cref, userId })
    return cref
  }
  /** What the other program holds, to compare before and after. */
  const snapshot = async () => {
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()
    return server.runtime.withTenant(tenant.id, async ({ db }) => ({
      program: await db.selectFrom('programs').selectAll().where('id', '=', foreign.program).execute(),
      partners: await db.selectFrom('partners').selectAll().where('id', 'in', [foreign.partner, own.shared]).orderBy('id').execute(),
      enrolments: await db.selectFrom('enrolments').selectAll().where('program_id', '=', foreign.program).orderBy('id').execute(),
      foreignPartnerEnrolments: await db.selectFrom('enrolments').select('program_id').where('partner_id', '=', foreign.partner).execute(),
      links: await db.selectFrom('links').selectAll().where('program_id', '=', foreign.program).orderBy('id').execute(),
      coupons: await db.selectFrom('coupons').selectAll().where('program_id', '=', foreign.program).orderBy('id').execute(),
      commissions: await db.selectFrom('commissions').selectAll().where('program_id', '=', foreign.program).orderBy('id').execute(),
      postbacks: await db.selectFrom('webhook_endpoints').select('id').where('partner_id', 'in', [foreign.partner, own.shared]).execute(),
      apiKeys: await db.selectFrom('api_keys').select('id').where('partner_id', 'in', [foreign.partner, own.shared]).execute(),
    }))
  }

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      webhooks: { allow_hosts: ['127.0.0.1'] },
      plugins: [{ builtin: 'zapier' }, { builtin: 'activepieces' }],
    })
    const program = (name: string) =>
      admin('POST', '/programs', {
        name,
        currency: 'USD',
        status: 'active',
        destinationUrl: 'https://shop.example.com/',
        holdbackDays: 0,
        rules: [
          { on: 'signup', amount: '1.00' },
          { on: 'sale', percent: '10' },
        ],
      })
    own.program = (await program('Own')).id
    foreign.program = (await program('Foreign')).id
    own.partner = (await admin('POST', '/partners', { email: 'own@partners.example' })).id
    foreign.partner = (await admin('POST', '/partners', { email: 'foreign@partners.example' })).id
    own.shared = (await admin('POST', '/partners', { email: 'both@partners.example' })).id
    const ownLink = await admin('POST', '/links', { partnerId: own.partner, programId: own.program })
    const foreignLink = await admin('POST', '/links', { partnerId: foreign.partner, programId: foreign.program })
    await admin('POST', '/links', { partnerId: own.shared, programId: own.program })
    await admin('POST', '/links', { partnerId: own.shared, programId: foreign.program })
    own.link = ownLink.id
    foreign.link = foreignLink.id
    foreign.linkKey = foreignLink.key
    own.customer = 'customer-own'
    foreign.customer = 'customer-foreign'
    own.click = await customerOf(ownLink.key, own.customer)
    foreign.click = await customerOf(foreignLink.key, foreign.customer)
    const sale = (userId: string) =>
      admin('POST', '/attribution/events', { userId, type: 'sale', value: '100.00', currency: 'USD', externalEventId: `sale-${userId}` })
    own.commission = (await sale(own.customer)).commissions[0].id
    const foreignSale = await sale(foreign.customer)
    foreign.commission = foreignSale.commissions[0].id
    foreign.event = foreignSale.eventId
    foreign.coupon = (await admin('POST', `/partners/${foreign.partner}/coupons`, { code: 'FOREIGN10', programId: foreign.program })).code
    boundKey = (await admin('POST', '/api-keys', { name: 'own program', scopes: BOUND_SCOPES, programId: own.program })).key

    const doc = (await (await server.call('GET', '/api/openapi.json')).json()) as { paths: Record<string, Record<string, Json>> }
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        const scopes: string[] | undefined = op.security?.[0]?.bearerAuth
        if (!scopes || op['x-partner-only'] || hasScopes(BOUND_SCOPES, scopes).length > 0) continue
        operations.push({
          method: method.toUpperCase(),
          path,
          scopes,
          body: op.requestBody?.content?.['application/json']?.schema,
          query: (op.parameters ?? []).filter((p: Json) => p.in === 'query').map((p: Json) => p.name),
        })
      }
    }
    // Sign-out ends nothing for a key, but keep it last all the same.
    operations = operations.sort((a, b) => Number(a.path.endsWith('/sign-out')) - Number(b.path.endsWith('/sign-out')))
  })
  afterAll(() => server.stop())

  /** Path parameters: the other program's resource of the kind the path names (several, where they differ). */
  function pathsFor(path: string): string[] {
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string, offset: number) => {
      const before = path.slice(0, offset)
      if (name === 'partnerId') return foreign.partner
      if (name === 'id' && before.endsWith('/programs/')) return foreign.program
      if (name === 'id' && before.endsWith('/links/')) return foreign.link
      if (name === 'id' && before.endsWith('/commissions/')) return foreign.commission
      if (name === 'id' && before.endsWith('/partners/')) return '{partner}'
      if (name === 'event') return '{trigger}'
      return 'none_such' // ids of things no bound key reaches either way (sessions, postbacks)
    })
    return [filled]
      .flatMap((p) => (p.includes('{partner}') ? [foreign.partner, own.shared].map((id) => p.replace('{partner}', id)) : [p]))
      .flatMap((p) =>
        p.includes('{trigger}')
          ? ['partner.created', 'commission.accrued', 'commission.approved'].map((t) => p.replace('{trigger}', t))
          : [p],
      )
  }

  /**
   * Bodies for the operation: every required field, every field that names a program, partner or
   * click, and an amount; an event both as a sale and as a refund of the other program's sale.
   */
  function bodiesFor(op: Operation): (Json | undefined)[] {
    if (!op.body) return [undefined]
    if (!op.body.properties?.type || op.path.endsWith('/redeem')) return [bodyFor(op, 'sale')]
    return [bodyFor(op, 'sale'), bodyFor(op, 'refund')]
  }

  function bodyFor(op: Operation, type: 'sale' | 'refund'): Json {
    const n = ++seq
    const values: Record<string, unknown> = {
      programId: foreign.program,
      partnerId: foreign.partner,
      userId: foreign.customer,
      cref: foreign.click,
      code: op.path.endsWith('/redeem') ? foreign.coupon : `CODE${n}`,
      refundOf: type === 'refund' ? `sale-${foreign.customer}` : undefined,
      type,
      value: '50.00',
      currency: 'USD',
      externalEventId: `bound-${n}`,
      email: `bound-${n}@partners.example`,
      name: `Bound ${n}`,
      key: `bound-${n}`,
      linkKey: `bound-${n}`,
      url: `${receiver.url}/pb?click={click_id}`,
      hookUrl: `${receiver.url}/hook`,
      event: 'commission.accrued',
    }
    const body: Json = {}
    for (const field of Object.keys(op.body!.properties ?? {})) {
      const required = op.body!.required?.includes(field)
      const pointer = ['programId', 'partnerId', 'cref', 'code', 'refundOf', 'value', 'currency'].includes(field)
      if (!required && !pointer) continue
      expect(field in values, `${op.method} ${op.path}: no value for its body field ${field}`).toBe(true)
      if (values[field] !== undefined) body[field] = values[field]
    }
    return body
  }

  it('may call the routes this test sweeps', () => {
    const ids = operations.map((o) => `${o.method} ${o.path}`)
    expect(ids).toEqual(
      expect.arrayContaining([
        'POST /api/attribution/events',
        'GET /api/partners',
        'GET /api/commissions',
        'POST /api/integrations/zapier/actions/record-event',
        'GET /api/integrations/zapier/triggers/{event}',
        'POST /api/integrations/activepieces/actions/record-event',
        'POST /api/integrations/activepieces/actions/create-partner',
      ]),
    )
  })

  it('sees its own program: the control for the sweep', async () => {
    const res = await server.call('GET', '/api/commissions', { key: boundKey })
    expect((await res.json()).commissions.map((c: Json) => c.id)).toEqual([own.commission])
    const trigger = await server.call('GET', '/api/integrations/zapier/triggers/commission.accrued', { key: boundKey })
    expect((await trigger.json()).map((c: Json) => c.id)).toEqual([own.commission])
    const partners = await server.call('GET', '/api/partners', { key: boundKey })
    expect((await partners.json()).partners.map((p: Json) => p.id).sort()).toEqual([own.partner, own.shared].sort())
  })

  it('reaches nothing of another program on any route it may call', async () => {
    const before = await snapshot()
    const leaks: string[] = []
    const secrets = Object.entries(foreign).filter(([k]) => k !== 'customer')
    for (const op of operations) {
      for (const path of pathsFor(op.path)) {
        const query = new URLSearchParams()
        if (op.query.includes('programId')) query.set('programId', foreign.program)
        if (op.query.includes('partnerId')) query.set('partnerId', foreign.partner)
        const url = path + (query.size ? `?${query}` : '')
        for (const body of bodiesFor(op)) {
          const res = await server.call(op.method, url, { key: boundKey, body })
          const text = await res.text()
          const where = `${op.method} ${url} ${body?.type ?? ''} → ${res.status}`
          if (res.status >= 500) leaks.push(`${where}: ${text}`)
          if (res.status >= 300) continue
          for (const [what, id] of secrets) if (text.includes(id)) leaks.push(`${where}: the other program's ${what} ${id}`)
        }
      }
    }
    expect(leaks).toEqual([])
    expect(await snapshot()).toEqual(before)
  })

  it('earns only in its own program through the automation plugins', async () => {
    for (const platform of ['zapier', 'activepieces']) {
      const res = await server.call('POST', `/api/integrations/${platform}/actions/record-event`, {
        key: boundKey,
        body: { userId: foreign.customer, type: 'sale', value: '80.00', currency: 'USD', externalEventId: `${platform}-sale` },
      })
      expect(res.status).toBe(201)
      const result = await res.json()
      expect(result.commissions).toEqual([])
      // The customer came through the other program only: no click this key may credit.
      expect(result.attribution.status).toBe('no_click')
      const created = await server.call('POST', `/api/integrations/${platform}/actions/create-partner`, {
        key: boundKey,
        body: { email: `${platform}@partners.example` },
      })
      const partner = await created.json()
      const listed = await server.call('GET', `/api/partners?email=${platform}@partners.example`, { key: boundKey })
      expect(
        (await listed.json()).partners.map((p: Json) => p.id),
        'a partner the key made joins its program',
      ).toEqual([partner.id])
    }
  })
})

afterAll(() => receiver.stop())
