/**
 * OpenPartner's own integration tests for the tracking API, replayed over HTTP against partnerd on
 * both databases: programs, links, identify, events, coupons and the click cookie. Each case names
 * where it comes from in getcoherence/openpartner: a test of apps/api/src/__tests__/ (file › describe
 * › test), or, where OpenPartner has no test of a behaviour, the route of apps/api/src/routes/ that
 * defines it.
 *
 * Their tests insert clicks and identities straight into their database; here a click is a real one
 * through the router (moved back in time in the database where a case needs an older one), and every
 * other step is their request, as they send it. Their expectations are asserted as they are, money
 * as partnerd's decimal strings; where partnerd answers otherwise by design, the case says why and
 * asserts partnerd's answer. Steps that belong to other areas (approval, payouts, dashboards) are
 * left to their own suites.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from '../support/databases.ts'
import { startTestServer, type TestServer } from '../support/server.ts'

type Json = Record<string, any>
const VISITOR = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0'
const DAY = 86_400_000

describe.each(DIALECTS)('OpenPartner’s tracking tests, replayed on %s', (dialect) => {
  let server: TestServer
  let ADMIN_KEY: string
  let seq = 0
  /** `request(app).post(path).set('Authorization', …).send(body)`, as their tests write it. */
  const request = async (method: string, path: string, body?: unknown, key: string | undefined = ADMIN_KEY) => {
    const res = await server.call(method, `/api${path}`, { key, body })
    return { status: res.status, body: (await res.json()) as Json, headers: res.headers }
  }
  const ok = async (method: string, path: string, body?: unknown) => {
    const res = await request(method, path, body)
    expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300)
    return res.body
  }
  /** What their tests insert as a Click row: here, a visitor following the link. */
  const click = async (linkKey: string) => {
    const res = await fetch(`${server.url}/r/${linkKey}`, { redirect: 'manual', headers: { 'user-agent': VISITOR } })
    expect(res.status).toBe(302)
    return { cref: new URL(res.headers.get('location')!).searchParams.get('cref')!, cookie: res.headers.get('set-cookie')! }
  }
  /** Their Click rows' `ts`: the click moved back in time, in the tenant's transaction. */
  const clickedAt = async (cref: string, at: Date) => {
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()
    await server.runtime.withTenant(tenant.id, (scope) =>
      scope.db.updateTable('clicks').set({ created_at: at.toISOString() }).where('id', '=', cref).execute(),
    )
  }
  const createPartner = async () => ok('POST', '/partners', { email: `p+${++seq}@example.com`, name: 'Test' })
  /** compound-rules.integration.test.ts's createCampaign: OpenPartner's program body, with overrides. */
  const createCampaign = (overrides: Record<string, unknown> = {}) =>
    ok('POST', '/programs', {
      name: 'Compound',
      commissionRule: [{ trigger: 'every', type: 'percent', value: 10 }],
      destinationUrl: 'https://example.com/signup',
      deepLinkAllowedDomains: 'e.com,example.com',
      ...overrides,
    })
  const createLink = (partnerId: string, programId: string, linkKey = `link_${dialect}_${++seq}`) =>
    ok('POST', `/partners/${partnerId}/links`, { linkKey, programId, destinationUrl: 'https://example.com/' })
  const commissionsOf = async (partnerId: string) =>
    ((await ok('GET', `/partners/${partnerId}/commissions`)).commissions as Json[]).sort((a, b) => (a.id < b.id ? -1 : 1))

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      commissions: { approve_interval_seconds: 0 },
      tracking: { velocity_per_minute: 1000, max_per_minute: 2000 },
    })
    ADMIN_KEY = server.adminKey
  })
  afterAll(() => server.stop())

  it('integration.test.ts › api integration › full funnel: partner → link → click → identify → event → attribution (steps 1–7)', async () => {
    // 1. Admin creates a partner.
    const partnerRes = await request('POST', '/partners', { email: 'ada@example.com', name: 'Ada' })
    expect(partnerRes.status).toBe(201)
    const partnerId = partnerRes.body.id

    // 2. Admin creates a campaign (20% commission).
    const campaignRes = await request('POST', '/programs', {
      name: 'Default',
      commissionRule: { type: 'percent', value: 20 },
      destinationUrl: 'https://example.com/signup',
      deepLinkAllowedDomains: 'e.com,example.com',
    })
    expect(campaignRes.status).toBe(201)
    const programId = campaignRes.body.id
    // Beside partnerd's fields, OpenPartner's: its rule read back in the list shape; active at once, as its programs are.
    expect(campaignRes.body).toMatchObject({
      status: 'active',
      currency: 'USD',
      rules: [{ on: 'sale', percent: '20', recurring: { lifetime: true } }],
      commissionRule: [{ trigger: 'every', eventType: 'sale', type: 'percent', value: 20, recurring: true }],
      attributionWindowDays: 60,
      attributionModel: 'last_click',
      deepLinkHosts: ['e.com', 'example.com'],
      deepLinkAllowedDomains: 'e.com,example.com',
    })

    // 3. Admin creates a link for the partner. Their request also carries the program's
    // deepLinkAllowedDomains, which OpenPartner's schema drops unread; partnerd refuses a field it
    // would not use (400 naming it), so the link is made without it.
    const linkKey = `test_${dialect}_${Date.now()}`
    const linkBody = { linkKey, programId, destinationUrl: 'https://example.com/signup' }
    const stray = await request('POST', `/partners/${partnerId}/links`, { ...linkBody, deepLinkAllowedDomains: 'e.com,example.com' })
    expect(stray).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
    const linkRes = await request('POST', `/partners/${partnerId}/links`, linkBody)
    expect(linkRes.status).toBe(201)
    expect(linkRes.body).toMatchObject({ linkKey, key: linkKey, partnerId, programId, destinationUrl: 'https://example.com/signup' })

    // 4. A click, through the router. Its cookie is the one OpenPartner's router sets: _cref, 90 days, Lax, not HttpOnly.
    const { cref: clickId, cookie } = await click(linkKey)
    expect(cookie).toMatch(new RegExp(`^_cref=${clickId}; Path=/; Max-Age=7776000; SameSite=Lax$`))

    // 5. Browser stitches the click to an authenticated user (SDK's identify()), with no credential.
    const userId = `user_${Date.now()}`
    const stitchRes = await request('POST', '/attribution/identify', { cref: clickId, userId }, undefined)
    expect(stitchRes.status).toBe(200)
    expect(stitchRes.body.firstStitch).toBe(true)

    // 6. Server-to-server revenue event.
    const eventRes = await request('POST', '/attribution/events', { userId, type: 'invoice_paid', value: 200, currency: 'USD' })
    expect(eventRes.status).toBe(200)
    expect(eventRes.body.attribution.status).toBe('attributed')
    expect(eventRes.body.ok).toBe(true)

    // 7. Attribution + Commission exist: 20% of 200, accrued.
    expect(eventRes.body.attribution.touches).toHaveLength(1)
    const commissions = await commissionsOf(partnerId)
    expect(commissions).toHaveLength(1)
    expect(commissions[0]).toMatchObject({ amount: '40.00', status: 'accrued', id: eventRes.body.attribution.touches[0].commissionId })
  })

  it('integration.test.ts › api integration › attribution is skipped for fraud-flagged clicks (partnerd: held for review)', async () => {
    const partnerRes = await request('POST', '/partners', { email: 'eve@example.com', name: 'Eve' })
    const partnerId = partnerRes.body.id
    const campaignRes = await request('POST', '/programs', {
      name: 'C',
      commissionRule: { type: 'percent', value: 10 },
      destinationUrl: 'https://example.com/signup',
      deepLinkAllowedDomains: 'e.com,example.com',
    })
    const programId = campaignRes.body.id
    const linkRes = await request('POST', `/partners/${partnerId}/links`, {
      linkKey: `fraud_${dialect}_${Date.now()}`,
      programId,
      destinationUrl: 'https://e.com',
    })
    expect(linkRes.status).toBe(201)
    // Their click row carries fraudFlag; here the router flags it itself (the partner is revoked).
    await ok('POST', `/partners/${partnerId}/revoke`, {})
    const { cref: clickId } = await click(linkRes.body.linkKey)

    const userId = `user_f_${Date.now()}`
    await request('POST', '/attribution/identify', { cref: clickId, userId }, undefined)
    const eventRes = await request('POST', '/attribution/events', { userId, type: 'invoice_paid', value: 100 })
    // OpenPartner drops a flagged click (no_click) and re-attributes when it is unflagged. partnerd
    // credits it and holds the commission `flagged`, earning nothing until a reviewer clears it
    // (POST /commissions/:id/clear) or rejects it: the same outcome, with the evidence kept.
    expect(eventRes.status).toBe(200)
    expect(eventRes.body.attribution.status).toBe('attributed')
    expect(await commissionsOf(partnerId)).toEqual([expect.objectContaining({ status: 'flagged', flag: 'revoked', amount: '10.00' })])
  })

  it('integration.test.ts › api integration › multi-touch linear model splits commission across partners', async () => {
    // Two partners, one linear program (20%), one user clicks both, buys once → each earns half.
    const p1 = (await request('POST', '/partners', { email: 'p1@x.com', name: 'P1' })).body.id
    const p2 = (await request('POST', '/partners', { email: 'p2@x.com', name: 'P2' })).body.id
    const linearCampaign = (
      await request('POST', '/programs', {
        name: 'Linear',
        commissionRule: { type: 'percent', value: 20 },
        attributionModel: 'linear',
        destinationUrl: 'https://example.com/signup',
        deepLinkAllowedDomains: 'e.com,example.com',
      })
    ).body.id
    const link1 = (
      await request('POST', `/partners/${p1}/links`, {
        linkKey: `l1_${dialect}_${Date.now()}`,
        programId: linearCampaign,
        destinationUrl: 'https://e.com',
      })
    ).body
    const link2 = (
      await request('POST', `/partners/${p2}/links`, {
        linkKey: `l2_${dialect}_${Date.now()}`,
        programId: linearCampaign,
        destinationUrl: 'https://e.com',
      })
    ).body
    const { cref: click1 } = await click(link1.linkKey)
    const { cref: click2 } = await click(link2.linkKey)
    await clickedAt(click1, new Date(Date.now() - 10_000))
    await clickedAt(click2, new Date(Date.now() - 5_000))

    const userId = `mt_${Date.now()}`
    await request('POST', '/attribution/identify', { cref: click1, userId }, undefined)
    await request('POST', '/attribution/identify', { cref: click2, userId }, undefined)

    // No currency: the program's.
    const evt = await request('POST', '/attribution/events', { userId, type: 'invoice_paid', value: 100 })
    expect(evt.body.attribution.status).toBe('attributed')
    expect(evt.body.attribution.touches).toHaveLength(2)
    expect(evt.body.attribution.touches.map((t: Json) => t.weight)).toEqual([0.5, 0.5])
    expect((await commissionsOf(p1))[0]).toMatchObject({ amount: '10.00', currency: 'USD' }) // half of 20% of 100
    expect((await commissionsOf(p2))[0]).toMatchObject({ amount: '10.00', currency: 'USD' })
  })

  it('integration.test.ts › audit safe-fixes › a click that happened AFTER the event does not attribute it (negative age)', async () => {
    const partnerId = (await request('POST', '/partners', { email: `fut-${++seq}@x.com`, name: 'Fut' })).body.id
    const programId = (
      await request('POST', '/programs', {
        name: 'Fut',
        commissionRule: { type: 'percent', value: 20 },
        destinationUrl: 'https://example.com/signup',
      })
    ).body.id
    const linkKey = (await request('POST', `/partners/${partnerId}/links`, { linkKey: `fut_${dialect}_${++seq}`, programId })).body.linkKey
    // Click NOW; the conversion event is backdated to before it.
    const { cref: clickId } = await click(linkKey)
    const userId = `u_fut_${seq}`
    await request('POST', '/attribution/identify', { cref: clickId, userId }, undefined)
    const eventRes = await request('POST', '/attribution/events', {
      userId,
      type: 'invoice_paid',
      value: 100,
      currency: 'USD',
      ts: new Date(Date.now() - 3600_000).toISOString(),
    })
    expect(eventRes.status).toBe(200)
    expect(eventRes.body.attribution.status).toBe('outside_window')
    expect(eventRes.body.attribution.touches).toEqual([])
    expect(await commissionsOf(partnerId)).toEqual([])
  })

  it('integration.test.ts › audit safe-fixes › an event a few seconds before its click still attributes (skew grace)', async () => {
    const partnerId = (await request('POST', '/partners', { email: `skew-${++seq}@x.com`, name: 'Skew' })).body.id
    const programId = (
      await request('POST', '/programs', {
        name: 'Skew',
        commissionRule: { type: 'percent', value: 20 },
        destinationUrl: 'https://example.com/signup',
      })
    ).body.id
    const linkKey = (await request('POST', `/partners/${partnerId}/links`, { linkKey: `skew_${dialect}_${++seq}`, programId })).body.linkKey
    const { cref: clickId } = await click(linkKey)
    const userId = `u_skew_${seq}`
    await request('POST', '/attribution/identify', { cref: clickId, userId }, undefined)
    const eventRes = await request('POST', '/attribution/events', {
      userId,
      type: 'invoice_paid',
      value: 100,
      currency: 'USD',
      ts: new Date(Date.now() - 2_000).toISOString(),
    })
    expect(eventRes.status).toBe(200)
    expect(eventRes.body.attribution.status).toBe('attributed')
    expect(await commissionsOf(partnerId)).toHaveLength(1)
  })

  it('integration.test.ts › server-to-server ingest routes reject partner principals › POST /coupons/redeem: partner key → 403; admin passes auth (404 unknown coupon)', async () => {
    const p = (await request('POST', '/partners', { email: `s2s-${++seq}@x.com`, name: 'S2S' })).body.id
    // OpenPartner's POST /partners/:id/api-keys is partnerd's POST /api-keys {partnerId}: a key acting as the partner.
    const partnerKey = (await ok('POST', '/api-keys', { name: 'test', partnerId: p })).key
    const body = { code: 'NOPE', eventType: 'sale', userId: 'u1', externalEventId: `ext-${++seq}`, value: 100 }
    const asPartner = await request('POST', '/coupons/redeem', body, partnerKey)
    expect(asPartner.status).toBe(403)
    const asAdmin = await request('POST', '/coupons/redeem', body)
    expect(asAdmin.status).not.toBe(403)
    expect(asAdmin.status).toBe(404)
    expect(asAdmin.body.error).toBe('coupon_not_found')
  })

  it('compound-rules.integration.test.ts › recurringMonths cap stops payouts past the configured horizon', async () => {
    const partner = await createPartner()
    const campaign = await createCampaign({
      commissionRule: [{ trigger: 'every', eventType: 'invoice_paid', type: 'percent', value: 50, recurring: true, recurringMonths: 3 }],
      attributionWindowDays: 365,
    })
    expect(campaign.rules).toEqual([{ on: 'sale', percent: '50', recurring: { months: 3 } }])
    const link = await createLink(partner.id, campaign.id)
    // Their dates (click Jan 1; invoices Jan 15, Apr 10, May 1), as days before now.
    const clickDay = Date.now() - 150 * DAY
    const { cref } = await click(link.linkKey)
    await clickedAt(cref, new Date(clickDay))
    const userId = `u-cap-${seq}`
    await request('POST', '/attribution/identify', { cref, userId }, undefined)
    const invoice = (days: number) =>
      request('POST', '/attribution/events', {
        userId,
        type: 'invoice_paid',
        value: 100,
        currency: 'USD',
        ts: new Date(clickDay + days * DAY).toISOString(),
      })
    // Within 3 months of the first attributed invoice → fires; past the 3-month cap → skipped.
    const answers = [await invoice(14), await invoice(99), await invoice(120)]
    expect(answers.map((a) => a.body.commissions.length)).toEqual([1, 1, 0])
    expect(answers[2]!.body.attribution).toMatchObject({ status: 'attributed', reason: 'recurring_ended' })
    const commissions = await commissionsOf(partner.id)
    expect(commissions).toHaveLength(2)
    expect(commissions.every((c) => c.amount === '50.00')).toBe(true)
  })

  it('compound-rules.integration.test.ts › first-trigger fires once per (partner, user, eventType): on a sale type', async () => {
    // Their rule fires on subscription_created, an event type partnerd pays nothing on (refused below);
    // the same rule on invoice_paid, which partnerd pays, fires once as theirs does.
    const partner = await createPartner()
    const campaign = await createCampaign({ commissionRule: [{ trigger: 'first', eventType: 'invoice_paid', type: 'fixed', value: 50 }] })
    expect(campaign.rules).toEqual([{ on: 'sale', amount: '50.00' }])
    const link = await createLink(partner.id, campaign.id)
    const { cref } = await click(link.linkKey)
    const userId = `u-first-${seq}`
    await request('POST', '/attribution/identify', { cref, userId }, undefined)
    await request('POST', '/attribution/events', { userId, type: 'invoice_paid', value: 20, currency: 'USD' })
    await request('POST', '/attribution/events', { userId, type: 'invoice_paid', value: 20, currency: 'USD' })
    const commissions = await commissionsOf(partner.id)
    expect(commissions).toHaveLength(1)
    expect(commissions[0]!.amount).toBe('50.00')
  })

  it('compound-rules.integration.test.ts › eventType-less every rule fires on every event (partnerd: on every sale)', async () => {
    const partner = await createPartner()
    const campaign = await createCampaign({ commissionRule: [{ trigger: 'every', type: 'percent', value: 10 }] })
    const link = await createLink(partner.id, campaign.id)
    const { cref } = await click(link.linkKey)
    const userId = `u-legacy-${seq}`
    await request('POST', '/attribution/identify', { cref, userId }, undefined)
    // OpenPartner pays 10% of any event with a value (10.00 + 4.90). partnerd takes a percentage of
    // sales (sale, purchase, invoice_paid, opportunity_won): subscription_created is recorded and
    // credited to the partner, and earns nothing.
    const created = await request('POST', '/attribution/events', { userId, type: 'subscription_created', value: 100, currency: 'USD' })
    expect(created.body.attribution).toMatchObject({ status: 'attributed', reason: 'not_commissionable' })
    await request('POST', '/attribution/events', { userId, type: 'invoice_paid', value: 49, currency: 'USD' })
    expect((await commissionsOf(partner.id)).map((c) => c.amount)).toEqual(['4.90'])
  })

  it('compound-rules.integration.test.ts › the rules partnerd cannot pay as OpenPartner would are refused, naming the rule', async () => {
    const refused = async (commissionRule: unknown, field: RegExp) => {
      const res = await request('POST', '/programs', { name: 'Refused', commissionRule, destinationUrl: 'https://example.com/signup' })
      expect(res.status, JSON.stringify(commissionRule)).toBe(400)
      expect(res.body.error).toBe('invalid_rules')
      expect(res.body.detail).toMatch(field)
    }
    // "first-sale bonus + recurring percent: $200 once + 20% on every invoice": subscription_created earns nothing here.
    await refused(
      [
        { trigger: 'first', eventType: 'subscription_created', type: 'fixed', value: 200 },
        { trigger: 'every', eventType: 'invoice_paid', type: 'percent', value: 20, recurring: true },
      ],
      /^commissionRule\.0\.eventType: subscription_created earns nothing/,
    )
    // …and on one sale type, two rules for the same event: partnerd pays one rule per event.
    await refused(
      [
        { trigger: 'first', eventType: 'invoice_paid', type: 'fixed', value: 200 },
        { trigger: 'every', eventType: 'invoice_paid', type: 'percent', value: 20, recurring: true },
      ],
      /^commissionRule\.1: a second rule for sales/,
    )
    // "first + subsequent on the same eventType: 50% on first invoice, 20% thereafter".
    await refused(
      [
        { trigger: 'first', eventType: 'invoice_paid', type: 'percent', value: 50 },
        { trigger: 'subsequent', eventType: 'invoice_paid', type: 'percent', value: 20, recurring: true },
      ],
      /^commissionRule\.1\.trigger: subsequent has no equivalent/,
    )
    // routes/programs.ts: a legacy fixed rule pays on every event; partnerd pays fixed amounts once.
    await refused({ type: 'fixed', value: 50 }, /^commissionRule\.trigger: a fixed amount is paid on a customer’s first sale/)
    await refused([{ trigger: 'first', type: 'percent', value: 10 }], /^commissionRule\.0\.eventType: trigger first needs an eventType/)
    await refused(
      { type: 'percent', value: 10, recurringMonths: 3 },
      /^commissionRule\.recurringMonths: recurringMonths requires recurring: true/,
    )
    await refused(
      { type: 'percent', value: 10, recurring: true, recurringMonths: 121 },
      /^commissionRule\.recurringMonths: at most 120 months/,
    )
    await refused({ type: 'fixed', value: 0, trigger: 'first', eventType: 'signup' }, /^commissionRule\.value: a fixed amount above 0/)
  })

  it('routes/programs.ts › GET and PATCH /programs/:id in OpenPartner’s names; bad fields are a 400 naming them', async () => {
    const program = await createCampaign({ holdbackDays: 14 })
    expect(program).toMatchObject({ holdbackDays: 14, status: 'active' })
    const changed = await ok('PATCH', `/programs/${program.id}`, {
      commissionRule: { type: 'percent', value: 12.5, recurring: true },
      attributionWindowDays: 30,
      attributionModel: 'position',
      deepLinkAllowedDomains: null,
      holdbackDays: null,
    })
    expect(changed).toMatchObject({
      rules: [{ on: 'sale', percent: '12.5', recurring: { lifetime: true } }],
      commissionRule: [{ trigger: 'every', eventType: 'sale', type: 'percent', value: 12.5, recurring: true }],
      attribution: { windowDays: 30, model: 'position' },
      attributionWindowDays: 30,
      attributionModel: 'position',
      deepLinkHosts: [],
      deepLinkAllowedDomains: null,
      holdbackDays: 0,
    })
    const read = await ok('GET', `/programs/${program.id}`)
    expect(read).toEqual(changed)
    expect((await ok('GET', '/programs')).programs).toContainEqual(changed)
    // What an answer says, sent back, changes nothing; fixed amounts read back as decimal strings.
    const fixed = await ok('PATCH', `/programs/${program.id}`, {
      commissionRule: [
        { trigger: 'first', eventType: 'signup', type: 'fixed', value: 5 },
        {
          trigger: 'every',
          eventType: 'invoice_paid',
          type: 'percent',
          value: 30,
          recurring: true,
          recurringMonths: 12,
          stepDown: { afterMonths: 3, value: 10 },
        },
      ],
    })
    expect(fixed.commissionRule).toEqual([
      { trigger: 'first', eventType: 'signup', type: 'fixed', value: '5.00', currency: 'USD' },
      {
        trigger: 'every',
        eventType: 'sale',
        type: 'percent',
        value: 30,
        recurring: true,
        recurringMonths: 12,
        stepDown: { afterMonths: 3, value: 10 },
      },
    ])
    const again = await ok('PATCH', `/programs/${program.id}`, { commissionRule: fixed.commissionRule })
    expect(again.rules).toEqual(fixed.rules)

    const bad: [Record<string, unknown>, string, RegExp][] = [
      [
        { commissionRule: { type: 'percent', value: 150 } },
        'invalid_percent',
        /^commissionRule\.value: a percentage above 0 and at most 100/,
      ],
      [{ commissionRule: { type: 'percent', value: 12.345 } }, 'invalid_percent', /^commissionRule\.value/],
      [{ commissionRule: { type: 'percent', value: '20' }, rules: [] }, 'invalid_request', /give rules or commissionRule, not both/],
      [{ attributionWindowDays: 0 }, 'invalid_request', /^body\.attributionWindowDays/],
      [
        { attributionModel: 'u_shape' },
        'invalid_request',
        /^body\.attributionModel: must be one of last_click, first_click, linear, position/,
      ],
      [{ attributionModel: 'linear', attribution: { model: 'linear' } }, 'invalid_request', /give attribution or attributionWindowDays/],
      [{ deepLinkAllowedDomains: 'good.com, bad/host' }, 'invalid_deep_link_host', /deepLinkHosts: "bad\/host" is not a host name/],
      [{ holdbackDays: -1 }, 'invalid_request', /^body\.holdbackDays/],
      [
        { commissionRule: { type: 'fixed', value: 1.234, trigger: 'first', eventType: 'sale' } },
        'invalid_amount',
        /USD has 2 decimal places \(got 1\.234\)/,
      ],
      [
        { commissionRule: { type: 'fixed', value: 5, currency: 'EUR', trigger: 'first', eventType: 'sale' } },
        'invalid_rules',
        /the program is in USD \(the rule says EUR\)/,
      ],
      [{ commissionRule: [] }, 'invalid_request', /^body\.commissionRule/],
      [{ shareOnNetwork: true }, 'invalid_request', /shareOnNetwork/],
    ]
    for (const [body, error, detail] of bad) {
      const res = await request('PATCH', `/programs/${program.id}`, body)
      expect({ status: res.status, error: res.body.error }, JSON.stringify(body)).toEqual({ status: 400, error })
      expect(res.body.detail).toMatch(detail)
    }
    expect(await ok('GET', `/programs/${program.id}`)).toEqual(again)

    // A new program whose fixed amounts name their currency is in it.
    const euros = await ok('POST', '/programs', {
      name: 'Euros',
      commissionRule: { trigger: 'first', eventType: 'signup', type: 'fixed', value: 7.5, currency: 'EUR' },
      destinationUrl: 'https://example.com/',
    })
    expect(euros).toMatchObject({ currency: 'EUR', rules: [{ on: 'signup', amount: '7.50' }] })
    // partnerd's own shape is unchanged: a draft, in the currency it names.
    const own = await ok('POST', '/programs', {
      name: 'Own',
      currency: 'GBP',
      destinationUrl: 'https://example.com/',
      rules: [{ on: 'sale', percent: '5' }],
    })
    expect(own).toMatchObject({
      status: 'draft',
      currency: 'GBP',
      commissionRule: [{ trigger: 'first', eventType: 'sale', type: 'percent', value: 5 }],
    })
  })

  it('routes/links.ts › POST and GET /partners/:id/links: linkKey, 409 linkKey_taken, deep links on the program’s domains only', async () => {
    const partner = await createPartner()
    const program = await createCampaign()
    const linkKey = `dup_${dialect}_${++seq}`
    const first = await request('POST', `/partners/${partner.id}/links`, { linkKey, programId: program.id })
    expect(first.status).toBe(201)
    expect(first.body).toMatchObject({ linkKey, destinationUrl: null })
    const taken = await request('POST', `/partners/${(await createPartner()).id}/links`, { linkKey, programId: program.id })
    expect(taken).toMatchObject({ status: 409, body: { error: 'linkKey_taken' } })
    const offsite = await request('POST', `/partners/${partner.id}/links`, {
      linkKey: `off_${seq}`,
      programId: program.id,
      destinationUrl: 'https://evil.example.org/',
    })
    expect(offsite).toMatchObject({ status: 400, body: { error: 'destination_override_not_allowed' } })
    const deep = await ok('POST', `/partners/${partner.id}/links`, {
      linkKey: `deep_${seq}`,
      programId: program.id,
      destinationUrl: 'https://e.com/pricing',
    })
    expect(deep.destinationUrl).toBe('https://e.com/pricing')
    for (const body of [
      { linkKey: 'no', programId: program.id },
      { linkKey: 'has space', programId: program.id },
      { programId: program.id },
    ]) {
      expect((await request('POST', `/partners/${partner.id}/links`, body)).body.error, JSON.stringify(body)).toBe('invalid_request')
    }
    const unknownProgram = await request('POST', `/partners/${partner.id}/links`, { linkKey: `none_${seq}`, programId: 'prg_none' })
    expect(unknownProgram.status).toBe(404)
    const listed = await ok('GET', `/partners/${partner.id}/links`)
    expect(listed.links.map((l: Json) => l.linkKey).sort()).toEqual([linkKey, `deep_${seq}`].sort())
    expect(listed.nextCursor).toBeNull()
  })

  it('routes/identify.ts › identify: ok, identityId, firstStitch, backfilledAttributions; 404 click_not_found; ts in ms', async () => {
    const partner = await createPartner()
    const program = await createCampaign()
    const link = await createLink(partner.id, program.id)
    const { cref } = await click(link.linkKey)
    const userId = `u-stitch-${seq}`
    // An event before the stitch waits, and the stitch attributes it (attributeBacklogForUser).
    const early = await request('POST', '/attribution/events', { userId, type: 'invoice_paid', value: 30, currency: 'USD' })
    expect(early.body.attribution.status).toBe('no_identity')
    const stitch = await request('POST', '/attribution/identify', { cref, userId, ts: Date.now() }, undefined)
    expect(stitch).toMatchObject({
      status: 200,
      body: { ok: true, identityId: `idn_${cref.slice(4)}`, firstStitch: true, backfilledAttributions: 1 },
    })
    expect((await commissionsOf(partner.id)).map((c) => c.amount)).toEqual(['3.00'])
    const again = await request('POST', '/attribution/identify', { cref, userId, ts: Date.now() }, undefined)
    expect(again.body).toMatchObject({ ok: true, identityId: null, firstStitch: false, backfilledAttributions: 0 })
    const missing = await request('POST', '/attribution/identify', { cref: 'clk_01HZZZZZZZZZZZZZZZZZZZZZZZ', userId }, undefined)
    expect(missing).toMatchObject({ status: 404, body: { error: 'click_not_found' } })
    for (const ts of ['yesterday', -1, 9e15]) {
      const res = await request('POST', '/attribution/identify', { cref, userId, ts }, undefined)
      expect({ status: res.status, error: res.body.error }, String(ts)).toEqual({ status: 400, error: 'invalid_request' })
      expect(res.body.detail).toMatch(/^body\.ts/)
    }
  })

  it('routes/events.ts › events: externalEventId optional (no idempotency without it), value a number, ts in ms or ISO', async () => {
    const partner = await createPartner()
    const program = await createCampaign()
    const link = await createLink(partner.id, program.id)
    const { cref } = await click(link.linkKey)
    const userId = `u-events-${seq}`
    await request('POST', '/attribution/identify', { cref, userId }, undefined)
    const body = { userId, type: 'invoice_paid', value: 19.99, currency: 'USD', metadata: { plan: 'pro' } }
    const one = await request('POST', '/attribution/events', body)
    const two = await request('POST', '/attribution/events', body)
    expect([one.status, two.status]).toEqual([200, 200])
    expect(one.body.eventId).not.toBe(two.body.eventId)
    expect(one.body).toMatchObject({ ok: true, replayed: false, externalEventId: one.body.eventId })
    expect((await commissionsOf(partner.id)).map((c) => c.amount)).toEqual(['2.00', '2.00'])
    // partnerd's idempotency, when an externalEventId is given; a decimal string is the same value.
    const keyed = { ...body, value: '5.50', externalEventId: `inv-${dialect}-${++seq}` }
    const first = await request('POST', '/attribution/events', keyed)
    const replay = await request('POST', '/attribution/events', keyed)
    expect(replay.status).toBe(200)
    expect(replay.body).toEqual({ ...first.body, replayed: true })
    // ts as epoch milliseconds, OpenPartner's SDK's other form.
    const at = Date.now() - 60_000
    const dated = await request('POST', '/attribution/events', { userId, type: 'signup', ts: at })
    expect(dated.status).toBe(200)
    const bad: [Record<string, unknown>, string, RegExp][] = [
      [{ value: 10.001 }, 'invalid_amount', /^value: USD has 2 decimal places \(got 10\.001\)/],
      [{ value: 0.1 + 0.2 }, 'invalid_amount', /got 0\.30000000000000004/],
      [{ value: 1e-7 }, 'invalid_amount', /got 0\.0000001/],
      [{ value: 1e21 }, 'invalid_amount', /^value: at most 10000000000000\.00 USD/],
      [{ value: -1 }, 'invalid_amount', /non-negative/],
      [{ ts: Date.now() + 3_600_000 }, 'invalid_timestamp', /in the future/],
      [{ ts: 'soon' }, 'invalid_timestamp', /ISO 8601/],
      [{ value: true }, 'invalid_request', /^body\.value/],
    ]
    for (const [extra, error, detail] of bad) {
      const res = await request('POST', '/attribution/events', { ...body, ...extra })
      expect({ status: res.status, error: res.body.error }, JSON.stringify(extra)).toEqual({ status: 400, error })
      expect(res.body.detail).toMatch(detail)
    }
  })

  it('routes/coupons.ts › coupons: a made-up code, redeem in OpenPartner’s body (201, replay 200), DELETE deactivates', async () => {
    const partner = await ok('POST', '/partners', { email: `ada.lovelace+${++seq}@example.com`, name: 'Ada' })
    const program = await createCampaign({ commissionRule: { type: 'percent', value: 15 } })
    const minted = await request('POST', `/partners/${partner.id}/coupons`, { programId: program.id })
    expect(minted.status).toBe(201)
    // OpenPartner's default code: the email's letters and digits, upper-cased, 12 at most, and 4 hex digits.
    expect(minted.body.code).toMatch(new RegExp(`^${`ADALOVELACE${seq}`.slice(0, 12)}[0-9A-F]{4}$`))
    expect(minted.body).toMatchObject({ partnerId: partner.id, programId: program.id, deactivatedAt: null })
    const code = minted.body.code as string

    const redemption = {
      code: code.toLowerCase(),
      eventType: 'invoice_paid',
      value: 100,
      externalEventId: `chk-${dialect}-${seq}`,
      userId: `shopper-${seq}`,
    }
    const redeemed = await request('POST', '/coupons/redeem', redemption)
    expect(redeemed.status).toBe(201)
    expect(redeemed.body).toMatchObject({ ok: true, eventId: expect.stringMatching(/^evt_/), partnerId: partner.id, replayed: false })
    expect(redeemed.body.commissions).toEqual([expect.objectContaining({ amount: '15.00', partnerId: partner.id })])
    const replayed = await request('POST', '/coupons/redeem', redemption)
    expect(replayed.status).toBe(200)
    expect(replayed.body).toMatchObject({ ok: true, replayed: true, eventId: redeemed.body.eventId })

    for (const [body, error] of [
      [{ ...redemption, externalEventId: `chk-x-${seq}`, eventType: 'refund' }, 'invalid_request'],
      [{ ...redemption, externalEventId: `chk-y-${seq}`, type: 'sale' }, 'invalid_request'],
      [{ ...redemption, externalEventId: undefined }, 'invalid_request'],
      [{ ...redemption, externalEventId: `chk-z-${seq}`, value: 1.001 }, 'invalid_amount'],
    ] as const) {
      const res = await request('POST', '/coupons/redeem', body)
      expect({ status: res.status, error: res.body.error }, JSON.stringify(body)).toEqual({ status: 400, error })
    }

    const deactivated = await request('DELETE', `/partners/${partner.id}/coupons/${minted.body.id}`)
    expect(deactivated.status).toBe(200)
    expect(deactivated.body.deactivatedAt).toEqual(expect.any(String))
    expect(deactivated.body.archivedAt).toBe(deactivated.body.deactivatedAt)
    // Idempotent: the same again is the same.
    expect((await request('DELETE', `/partners/${partner.id}/coupons/${minted.body.id}`)).body).toEqual(deactivated.body)
    const late = await request('POST', '/coupons/redeem', { ...redemption, externalEventId: `chk-late-${seq}` })
    expect(late).toMatchObject({ status: 404, body: { error: 'coupon_not_found' } })
    expect((await request('DELETE', `/partners/${partner.id}/coupons/cpn_none`)).body.error).toBe('coupon_not_found')
    expect((await ok('GET', `/partners/${partner.id}/coupons`)).coupons).toEqual([deactivated.body])
  })

  it('a tenant’s default currency: what OpenPartner’s programs and events without one are in', async () => {
    expect((await ok('GET', '/tenant')).defaultCurrency).toBe('USD')
    expect(await request('PATCH', '/tenant', { defaultCurrency: 'XYZ' })).toMatchObject({
      status: 400,
      body: { error: 'unknown_currency' },
    })
    expect(await request('PATCH', '/tenant', { defaultCurrency: 'eur' })).toMatchObject({ status: 400, body: { error: 'invalid_request' } })
    expect(await ok('PATCH', '/tenant', { defaultCurrency: 'EUR' })).toMatchObject({ defaultCurrency: 'EUR' })
    try {
      expect((await ok('GET', '/tenant')).defaultCurrency).toBe('EUR')
      const partner = await createPartner()
      const program = await createCampaign({ commissionRule: { type: 'percent', value: 10 } })
      expect(program.currency).toBe('EUR')
      const link = await createLink(partner.id, program.id)
      const { cref } = await click(link.linkKey)
      const userId = `u-eur-${seq}`
      await request('POST', '/attribution/identify', { cref, userId }, undefined)
      const paid = await request('POST', '/attribution/events', { userId, type: 'invoice_paid', value: 80 })
      expect(paid.body.commissions).toEqual([expect.objectContaining({ amount: '8.00', currency: 'EUR' })])
      // A customer of no program: the tenant's currency.
      const stranger = await request('POST', '/attribution/events', { userId: `nobody-${seq}`, type: 'invoice_paid', value: 80.5 })
      expect(stranger.status).toBe(200)
      // A customer of programs in two currencies names one.
      const dollars = await ok('POST', '/programs', {
        name: 'Dollars',
        currency: 'USD',
        status: 'active',
        destinationUrl: 'https://example.com/',
      })
      await request(
        'POST',
        '/attribution/identify',
        { cref: (await click((await createLink(partner.id, dollars.id)).linkKey)).cref, userId },
        undefined,
      )
      const unsure = await request('POST', '/attribution/events', { userId, type: 'invoice_paid', value: 80 })
      expect(unsure).toMatchObject({
        status: 400,
        body: { error: 'invalid_amount', detail: `currency: ${userId} came through programs in EUR and USD; name the currency of value` },
      })
    } finally {
      await ok('PATCH', '/tenant', { defaultCurrency: 'USD' })
    }
  })
})
