/**
 * The partner program end to end over HTTP, on both databases: program → partner → link → click →
 * identify → sale → commission → holdback → approve → payout → paid → refund → clawback, and the
 * rules around each step.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordEvent } from '../src/attribution/events.ts'
import { reverseCommission } from '../src/commissions/service.ts'
import type { DomainEvent } from '../src/domain-events/bus.ts'
import { markFailed, markPaid } from '../src/payouts/service.ts'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe.each(DIALECTS)('the partner program on %s', (dialect) => {
  let server: TestServer
  let key: string
  const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    server.call(method, `/api${path}`, { key, body, headers })
  const json = async (method: string, path: string, body?: unknown, status = [200, 201]) => {
    const res = await call(method, path, body)
    const data = await res.json()
    expect(status, `${method} ${path}: ${JSON.stringify(data)}`).toContain(res.status)
    return data
  }
  /** Follows a link as a browser would, without following the redirect. */
  const click = (linkKey: string, query = '', headers: Record<string, string> = {}) =>
    fetch(`${server.url}/r/${linkKey}${query}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 Firefox/140.0', ...headers } })
  const crefOf = (res: Response) => new URL(res.headers.get('location')!).searchParams.get('cref')!
  /** Reads rows as the server would: inside the tenant (PostgreSQL's row-level security sees to it). */
  const inTenant = async <T>(fn: (db: Parameters<Parameters<TestServer['runtime']['withTenant']>[1]>[0]['db']) => Promise<T>) => {
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()
    return server.runtime.withTenant(tenant.id, (scope) => fn(scope.db))
  }
  let seq = 0
  const program = (overrides: Record<string, unknown> = {}) =>
    json('POST', '/programs', {
      name: `Program ${++seq}`,
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://shop.example.com/welcome?from=partner',
      deepLinkHosts: ['docs.example.com'],
      holdbackDays: 0,
      rules: [
        { on: 'signup', amount: '5.00' },
        { on: 'sale', percent: '20' },
      ],
      ...overrides,
    })
  const partner = (email = `p${++seq}@partners.example`) => json('POST', '/partners', { email, name: 'A partner' })
  const link = async (partnerId: string, programId: string, extra: Record<string, unknown> = {}) =>
    json('POST', '/links', { partnerId, programId, ...extra })
  const event = (body: Record<string, unknown>) => json('POST', '/attribution/events', { externalEventId: `ext-${++seq}`, ...body })
  /** A visitor clicks and the site identifies them as `userId`; returns the cref. */
  const visit = async (linkKey: string, userId: string) => {
    const res = await click(linkKey)
    expect(res.status).toBe(302)
    const cref = crefOf(res)
    await json('POST', '/attribution/identify', { cref, userId })
    return cref
  }

  const events: DomainEvent[] = []
  beforeAll(async () => {
    server = await startTestServer(dialect, {
      commissions: { approve_interval_seconds: 0 },
      tracking: { velocity_per_minute: 1000, max_per_minute: 2000 },
    })
    key = server.adminKey
    server.runtime.bus.subscribe('*', (e) => void events.push(e))
  })
  afterAll(() => server.stop())

  it('runs the whole pipeline: click, identify, sale, commission, approve, payout, paid, refund, clawback', async () => {
    const prg = await program()
    const ptn = await partner()
    const lnk = await link(ptn.id, prg.id, { key: 'spring-sale' })
    expect(lnk).toMatchObject({ key: 'spring-sale', partnerId: ptn.id, programId: prg.id, destinationUrl: null })

    const res = await click('spring-sale', '?sub=newsletter', { referer: 'https://blog.example.org/post' })
    expect(res.status).toBe(302)
    const location = new URL(res.headers.get('location')!)
    expect(`${location.origin}${location.pathname}`).toBe('https://shop.example.com/welcome')
    expect(location.searchParams.get('from')).toBe('partner')
    const cref = location.searchParams.get('cref')!
    expect(cref).toMatch(/^clk_[0-9A-Z]{26}$/)
    const cookie = res.headers.get('set-cookie')!
    expect(cookie).toContain(`_cref=${cref}`)
    expect(cookie).toMatch(/Max-Age=7776000/)
    expect(cookie).toMatch(/SameSite=Lax/)
    const stored = await inTenant((db) => db.selectFrom('clicks').selectAll().where('id', '=', cref).executeTakeFirstOrThrow())
    expect(stored).toMatchObject({
      partner_id: ptn.id,
      program_id: prg.id,
      sub_source: 'newsletter',
      referer: 'https://blog.example.org/post',
      flag: null,
    })
    expect(stored.ip_hash).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(stored.ip_hash).not.toContain('127.0.0.1')

    expect(await json('POST', '/attribution/identify', { cref, userId: 'cust-1' })).toEqual({
      ok: true,
      cref,
      userId: 'cust-1',
      attributedEvents: 0,
      identityId: `idn_${cref.slice(4)}`,
      firstStitch: true,
      backfilledAttributions: 0,
    })
    const signup = await event({ userId: 'cust-1', type: 'signup' })
    expect(signup.commissions).toEqual([expect.objectContaining({ amount: '5.00', trigger: 'signup', status: 'accrued' })])

    const sale = await event({ userId: 'cust-1', type: 'sale', value: '99.99', currency: 'USD' })
    expect(sale.eventId).toMatch(/^evt_/)
    expect(sale.attribution).toEqual({
      status: 'attributed',
      model: 'last_click',
      touches: [
        {
          clickId: cref,
          partnerId: ptn.id,
          programId: prg.id,
          weight: 1,
          attributionId: expect.stringMatching(/^att_/),
          commissionId: sale.commissions[0].id,
        },
      ],
    })
    // 20% of 99.99 is 19.998: rounded half away from zero to the cent.
    expect(sale.commissions).toEqual([
      expect.objectContaining({ partnerId: ptn.id, amount: '20.00', currency: 'USD', status: 'accrued', kind: 'commission' }),
    ])
    const commissionId = sale.commissions[0].id

    const approved = await json('POST', `/commissions/${commissionId}/approve`)
    expect(approved.status).toBe('approved')
    expect((await json('POST', '/commissions/approve-matured')).approved).toBe(1) // the signup's

    const run = await json('POST', '/payouts/run', {})
    expect(run.payouts).toEqual([
      expect.objectContaining({ partnerId: ptn.id, amount: '25.00', currency: 'USD', commissionCount: 2, status: 'pending' }),
    ])
    const payoutId = run.payouts[0].id
    expect((await json('POST', '/payouts/run', {})).payouts).toEqual([]) // nothing left to pay
    const paid = await json('POST', '/payouts/mark-paid', { payoutIds: [payoutId], reference: 'BANK-42' })
    expect(paid.payouts[0]).toMatchObject({ status: 'paid', reference: 'BANK-42' })
    expect((await json('GET', `/commissions/${commissionId}`)).status).toBe('paid')

    // A refund after payout cannot undo the payment: a negative entry, counted once.
    const refundBody = {
      userId: 'cust-1',
      type: 'refund',
      value: '99.99',
      currency: 'USD',
      externalEventId: `refund-${seq}`,
      refundOf: sale.externalEventId,
    }
    const refund = await json('POST', '/attribution/events', refundBody)
    expect(refund.attribution.status).toBe('reversal')
    expect(refund.commissions).toEqual([
      expect.objectContaining({ kind: 'clawback', amount: '-20.00', status: 'approved', reversesId: commissionId }),
    ])
    const again = await call('POST', '/attribution/events', refundBody)
    expect(again.status).toBe(200)
    expect((await again.json()).eventId).toBe(refund.eventId)
    const all = await json('GET', `/partners/${ptn.id}/commissions`)
    expect(all.commissions.filter((c: { kind: string }) => c.kind === 'clawback')).toHaveLength(1)
    // The balance is negative: no payout until the partner earns it back.
    expect((await json('POST', '/payouts/run', {})).payouts).toEqual([])
    await event({ userId: 'cust-1', type: 'sale', value: '10.00', currency: 'USD' }) // not the first sale: earns nothing
    expect((await json('GET', `/partners/${ptn.id}/payouts`)).payouts.map((p: { id: string }) => p.id)).toEqual([payoutId])

    const stats = await json('GET', `/partners/${ptn.id}/stats?from=2020-01-01`)
    expect(stats).toMatchObject({
      clicks: { total: 1, flagged: 0 },
      conversions: { signups: 1, sales: 1 }, // the second sale earned nothing: not the partner's conversion
      revenue: { USD: '99.99' },
      commissions: { paid: { USD: '25.00' }, approved: { USD: '-20.00' } },
    })
    // The same figures as the console lists them: the partner's totals, and its program's overview.
    const listed = await json('GET', `/partners?email=${encodeURIComponent(ptn.email)}&totals=true`)
    expect(listed.partners[0].totals).toEqual({ clicks: 1, conversions: 2, revenue: { USD: '99.99' }, earned: { USD: '5.00' } })
    const overview = await json('GET', `/overview?programId=${prg.id}`)
    expect(overview).toMatchObject({
      now: { clicks: 1, signups: 1, sales: 1, revenue: { USD: '99.99' } },
      before: { clicks: 0, signups: 0, sales: 0, revenue: {} },
      commissions: { paid: { USD: '25.00' }, approved: { USD: '-20.00' } },
      earned: { USD: '5.00' },
      top: { partners: [{ partnerId: ptn.id, conversions: 2 }], links: [{ linkId: lnk.id, key: 'spring-sale', conversions: 2 }] },
    })
    expect(overview.days).toHaveLength(30)
    expect(overview.days.reduce((n: number, d: { clicks: number }) => n + d.clicks, 0)).toBe(1)
    expect(overview.pending).toBeUndefined() // a program's report: payouts are across programs
    const programStats = await json('GET', `/programs/${prg.id}/stats?to=2020-01-01`)
    expect(programStats).toMatchObject({ clicks: { total: 0 }, conversions: { signups: 0, sales: 0 }, commissions: {} })
    expect((await call('GET', `/programs/${prg.id}/stats?from=2026-02-01&to=2026-01-01`)).status).toBe(400)
    expect((await call('GET', `/programs/${prg.id}/stats?from=last-week`)).status).toBe(400)

    const csv = await (await call('GET', `/commissions/export.csv?partnerId=${ptn.id}`)).text()
    const [header, ...lines] = csv.trim().split('\r\n')
    expect(header).toBe('id,partnerId,programId,eventId,userId,trigger,kind,amount,currency,status,flag,matureAt,payoutId,createdAt')
    expect(lines.map((l) => l.split(',').slice(6, 10).join(' ')).sort()).toEqual(
      ['clawback -20.00 USD approved', 'commission 20.00 USD paid', 'commission 5.00 USD paid'].sort(),
    )
  })

  it("ranks a program's top partners by conversions, ties by id, five at most, with their names", async () => {
    // In holdback: the tests after this one count the matured commissions.
    const prg = await program({ holdbackDays: 30, rules: [{ on: 'sale', amount: '1.00' }] })
    // Seven partners converting 1 to 7 times: the five with the most come back, most first.
    const made: { id: string; email: string; sales: number }[] = []
    for (let sales = 1; sales <= 7; sales++) {
      const ptn = await partner()
      const lnk = await link(ptn.id, prg.id)
      for (let n = 0; n < sales; n++) {
        const userId = `top-${ptn.id}-${n}`
        await visit(lnk.key, userId)
        await event({ userId, type: 'sale', value: '10.00', currency: 'USD' })
      }
      made.push({ ...ptn, sales })
    }
    const { top } = await json('GET', `/overview?programId=${prg.id}`)
    expect(top.partners).toEqual(
      made
        .slice(2)
        .reverse()
        .map((p) => ({ partnerId: p.id, name: 'A partner', email: p.email, conversions: p.sales })),
    )
  })

  it('keeps the holdback: approving early is 409 holdback_active with matureAt; the job approves once it has passed', async () => {
    const prg = await program({ holdbackDays: 30 })
    const ptn = await partner()
    const lnk = await link(ptn.id, prg.id)
    await visit(lnk.key, 'cust-hold')
    const ts = new Date(Date.now() - 10 * 86_400_000).toISOString()
    // The click came after this sale: it cannot have caused it.
    const early = await event({ userId: 'cust-hold', type: 'sale', value: '50.00', currency: 'USD', ts })
    expect(early.attribution.status).toBe('outside_window')
    const sale = await event({ userId: 'cust-hold', type: 'sale', value: '50.00', currency: 'USD' })
    const commission = sale.commissions[0]
    const res = await call('POST', `/commissions/${commission.id}/approve`)
    expect(res.status).toBe(409)
    const body = await res.json()
    expect(body).toMatchObject({ error: 'holdback_active', matureAt: commission.matureAt })
    expect(Date.parse(body.matureAt) - Date.now()).toBeGreaterThan(29 * 86_400_000)
    expect((await json('POST', '/commissions/approve-matured')).approved).toBe(0)
  })

  it('replays an event by externalEventId; the same id with another body is 409 and writes nothing', async () => {
    const prg = await program()
    const lnk = await link((await partner()).id, prg.id)
    await visit(lnk.key, 'cust-replay')
    const body = {
      userId: 'cust-replay',
      type: 'sale',
      value: '10.00',
      currency: 'USD',
      externalEventId: 'order-777',
      metadata: { plan: 'pro', seats: { min: 1, max: 5 } },
    }
    // 200 both times, as OpenPartner answers; `replayed` tells them apart.
    const first = await call('POST', '/attribution/events', body)
    expect(first.status).toBe(200)
    const firstBody = await first.json()
    expect(firstBody.replayed).toBe(false)
    const second = await call('POST', '/attribution/events', body)
    expect(second.status).toBe(200)
    expect(await second.json()).toEqual({ ...firstBody, replayed: true })
    // The same body with its keys in another order is the same event.
    const reordered = { ...Object.fromEntries(Object.entries(body).reverse()), metadata: { seats: { max: 5, min: 1 }, plan: 'pro' } }
    expect((await call('POST', '/attribution/events', reordered)).status).toBe(200)
    const conflict = await call('POST', '/attribution/events', { ...body, value: '11.00' })
    expect(conflict.status).toBe(409)
    expect(await conflict.json()).toMatchObject({ error: 'event_conflict' })
    expect((await json('GET', `/commissions?programId=${prg.id}`)).commissions).toHaveLength(1)

    // A replay is answered even once its ts has grown too old for a new event.
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()
    const now = new Date()
    const old = { ...body, externalEventId: 'order-old', ts: new Date(now.getTime() - 399 * 86_400_000).toISOString() }
    const record = (input: typeof old, at: Date) => server.runtime.withTenant(tenant.id, (scope) => recordEvent(scope, input, at))
    const original = await record(old, now)
    expect(original.replayed).toBe(false)
    const later = new Date(now.getTime() + 2 * 86_400_000)
    expect(await record(old, later)).toEqual({ result: original.result, replayed: true })
    await expect(record({ ...old, externalEventId: 'order-new-but-old' }, later)).rejects.toMatchObject({ code: 'invalid_timestamp' })
  })

  it('attributes the backlog: events before identify are attributed when the click is identified', async () => {
    const prg = await program()
    const lnk = await link((await partner()).id, prg.id)
    const res = await click(lnk.key)
    const cref = crefOf(res)
    const sale = await event({ userId: 'cust-late', type: 'sale', value: '30.00', currency: 'USD' })
    expect(sale.attribution.status).toBe('no_identity')
    expect(sale.commissions).toEqual([])
    expect(await json('POST', '/attribution/identify', { cref, userId: 'cust-late' })).toMatchObject({
      attributedEvents: 1,
      backfilledAttributions: 1,
      firstStitch: true,
    })
    const commissions = (await json('GET', `/commissions?programId=${prg.id}`)).commissions
    expect(commissions).toEqual([expect.objectContaining({ eventId: sale.eventId, amount: '6.00' })])
    // A click belongs to one customer.
    const stolen = await call('POST', '/attribution/identify', { cref, userId: 'someone-else' })
    expect(stolen.status).toBe(409)
    expect(await stolen.json()).toMatchObject({ error: 'cref_claimed' })
    const unknown = await call('POST', '/attribution/identify', { cref: 'clk_01HZZZZZZZZZZZZZZZZZZZZZZZ', userId: 'x' })
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ error: 'click_not_found' })
  })

  it('shares credit by the program model: linear and position across partners', async () => {
    for (const [model, weights, amounts] of [
      ['linear', [0.3334, 0.3333, 0.3333], ['33.34', '33.33', '33.33']],
      ['position', [0.4, 0.2, 0.4], ['40.00', '20.00', '40.00']],
      ['first_click', [1], ['100.00']],
    ] as const) {
      const prg = await program({ attribution: { model }, rules: [{ on: 'sale', percent: '100' }] })
      const partners = [await partner(), await partner(), await partner()]
      const customer = `cust-${model}`
      for (const p of partners) await visit((await link(p.id, prg.id)).key, customer)
      const sale = await event({ userId: customer, type: 'sale', value: '100.00', currency: 'USD' })
      expect(sale.attribution.model).toBe(model)
      expect(sale.attribution.touches.map((t: { weight: number }) => t.weight)).toEqual(weights)
      expect(sale.commissions.map((c: { amount: string }) => c.amount)).toEqual(amounts)
    }
  })

  it('pays recurring commissions for N months after the first sale, stepping down; one-off rules pay once', async () => {
    const prg = await program({
      rules: [{ on: 'sale', percent: '30', recurring: { months: 12 }, stepDown: { afterMonths: 3, percent: '10' } }],
    })
    const lnk = await link((await partner()).id, prg.id)
    // Month-aligned times: the first sale a year and a day ago, renewals whole months after it.
    const first = new Date(Date.now() - 86_400_000)
    first.setUTCFullYear(first.getUTCFullYear() - 1)
    const monthsAfter = (n: number) => {
      const at = new Date(first)
      at.setUTCMonth(at.getUTCMonth() + n)
      return at.toISOString()
    }
    // The click has to come before the first sale: record it, then move it back.
    const cref = await visit(lnk.key, 'cust-sub')
    await inTenant((db) =>
      db
        .updateTable('clicks')
        .set({ created_at: new Date(first.getTime() - 86_400_000).toISOString() })
        .where('id', '=', cref)
        .execute(),
    )
    const trial = await event({ userId: 'cust-sub', type: 'trial_started', ts: new Date(first.getTime() - 3_600_000).toISOString() })
    expect(trial.attribution).toMatchObject({ status: 'attributed', reason: 'not_commissionable' })
    const amounts: string[] = []
    for (const n of [0, 1, 2, 3, 11, 12]) {
      const sale = await event({ userId: 'cust-sub', type: 'invoice_paid', value: '100.00', currency: 'USD', ts: monthsAfter(n) })
      amounts.push(sale.commissions[0]?.amount ?? sale.attribution.reason)
    }
    // Months 0, 1, 2 at 30%; from the 3rd at 10%; the 12 months are over at the 12th.
    expect(amounts).toEqual(['30.00', '30.00', '30.00', '10.00', '10.00', 'recurring_ended'])
  })

  it('reverses unpaid commissions on refund, and a partial refund claws back its share', async () => {
    const prg = await program({ rules: [{ on: 'sale', percent: '10' }] })
    const lnk = await link((await partner()).id, prg.id)
    await visit(lnk.key, 'cust-r1')
    const sale = await event({ userId: 'cust-r1', type: 'sale', value: '200.00', currency: 'USD' })
    const partial = await event({ userId: 'cust-r1', type: 'refund', value: '50.00', currency: 'USD', refundOf: sale.externalEventId })
    expect(partial.commissions).toEqual([expect.objectContaining({ kind: 'clawback', amount: '-5.00', status: 'accrued' })])
    const tooMuch = await call('POST', '/attribution/events', {
      userId: 'cust-r1',
      type: 'refund',
      value: '151.00',
      currency: 'USD',
      externalEventId: 'r-big',
      refundOf: sale.externalEventId,
    })
    expect(tooMuch.status).toBe(400)
    expect(await tooMuch.json()).toMatchObject({ error: 'invalid_refund' })
    // A currency without a value says neither "the whole sale" nor how much of it: refused, and the
    // net below shows it took nothing back.
    const currencyOnly = await call('POST', '/attribution/events', {
      userId: 'cust-r1',
      type: 'refund',
      currency: 'USD',
      externalEventId: 'r-currency-only',
      refundOf: sale.externalEventId,
    })
    expect(currencyOnly.status).toBe(400)
    expect(await currencyOnly.json()).toMatchObject({ error: 'invalid_amount', detail: expect.any(String) })
    const rest = await event({ userId: 'cust-r1', type: 'chargeback', value: '150.00', currency: 'USD' })
    expect(rest.commissions).toEqual([expect.objectContaining({ kind: 'clawback', amount: '-15.00' })])
    const net = (await json('GET', `/commissions?programId=${prg.id}`)).commissions.reduce(
      (s: number, c: { amount: string }) => s + Number(c.amount),
      0,
    )
    expect(net).toBe(0)

    await visit((await link((await partner()).id, prg.id)).key, 'cust-r2')
    const whole = await event({ userId: 'cust-r2', type: 'sale', value: '80.00', currency: 'USD' })
    await event({ userId: 'cust-r2', type: 'refund' }) // no value, no refundOf: the latest sale, in full
    expect(await json('GET', `/commissions/${whole.commissions[0].id}`)).toMatchObject({ status: 'reversed' })
  })

  it('flags revoked partners, self-referrals and bursts for review; clearing lets them accrue', async () => {
    const prg = await program()
    const ptn = await partner('self@partners.example')
    const lnk = await link(ptn.id, prg.id)
    await visit(lnk.key, 'cust-self')
    const self = await event({ userId: 'cust-self', type: 'sale', value: '10.00', currency: 'USD', customerEmail: 'SELF@partners.example' })
    expect(self.commissions[0]).toMatchObject({ status: 'flagged', flag: 'self_referral' })
    const approve = await call('POST', `/commissions/${self.commissions[0].id}/approve`)
    expect(approve.status).toBe(409)
    expect(await approve.json()).toMatchObject({ error: 'commission_flagged' })
    const queue = await json('GET', '/commissions?status=flagged')
    expect(queue.commissions.map((c: { id: string }) => c.id)).toContain(self.commissions[0].id)
    // Partly refunded while it waits for review: the clawback waits with it, and is cleared with it.
    const partly = await event({ userId: 'cust-self', type: 'refund', value: '4.00', currency: 'USD' })
    const [selfBack] = partly.commissions
    expect(selfBack).toMatchObject({ kind: 'clawback', status: 'flagged' })
    const alone = await call('POST', `/commissions/${selfBack.id}/clear`)
    expect(alone.status).toBe(409)
    expect(await json('POST', `/commissions/${self.commissions[0].id}/clear`)).toMatchObject({ status: 'accrued', flag: null })
    expect(await json('GET', `/commissions/${selfBack.id}`)).toMatchObject({ status: 'accrued', flag: null })

    await json('POST', `/partners/${ptn.id}/revoke`)
    const res = await click(lnk.key)
    expect(res.status).toBe(302) // still redirects
    const flagged = await inTenant((db) => db.selectFrom('clicks').select('flag').where('id', '=', crefOf(res)).executeTakeFirstOrThrow())
    // Listing partners without a status filter shows revoked ones too.
    const listed = await json('GET', `/partners?email=${ptn.email}`)
    expect(listed.partners).toEqual([expect.objectContaining({ id: ptn.id, status: 'revoked' })])
    expect(flagged.flag).toBe('revoked')
    expect((await json('GET', `/partners/${ptn.id}/stats`)).clicks).toEqual({ total: 2, flagged: 1 })
    await json('POST', '/attribution/identify', { cref: crefOf(res), userId: 'cust-after-revoke' })
    const late = await event({ userId: 'cust-after-revoke', type: 'sale', value: '10.00', currency: 'USD' })
    expect(late.commissions[0]).toMatchObject({ status: 'flagged', flag: 'revoked' })
    const lateBack = (await event({ userId: 'cust-after-revoke', type: 'refund', value: '5.00', currency: 'USD' })).commissions[0]
    expect(await json('POST', `/commissions/${late.commissions[0].id}/reject`)).toMatchObject({ status: 'voided' })
    // Rejected, it earned nothing: nothing of it is taken back either.
    expect(await json('GET', `/commissions/${lateBack.id}`)).toMatchObject({ status: 'voided' })
  })

  it('earns nothing while a program is paused, though its links still redirect', async () => {
    const prg = await program()
    const lnk = await link((await partner()).id, prg.id)
    await json('PATCH', `/programs/${prg.id}`, { status: 'paused' })
    await visit(lnk.key, 'cust-paused')
    const sale = await event({ userId: 'cust-paused', type: 'sale', value: '10.00', currency: 'USD' })
    expect(sale.attribution).toMatchObject({ status: 'attributed', reason: 'program_not_active' })
    expect(sale.commissions).toEqual([])
  })

  it('pays out by partner and currency above a minimum, and marks exactly the payouts named', async () => {
    const eur = await program({ currency: 'EUR', rules: [{ on: 'sale', amount: '7.00' }] })
    const usd = await program({ rules: [{ on: 'sale', amount: '3.00' }] })
    const a = await partner()
    const b = await partner()
    for (const [p, prg, customer] of [
      [a, eur, 'pay-1'],
      [a, usd, 'pay-2'],
      [b, eur, 'pay-3'],
    ] as const) {
      await visit((await link(p.id, prg.id)).key, customer)
      await event({ userId: customer, type: 'sale', value: '1.00', currency: prg.currency })
    }
    await json('POST', '/commissions/approve-matured')
    const bad = await call('POST', '/payouts/run', { minimumAmount: { USD: '1.001' } })
    expect(bad.status).toBe(400)
    const run = await json('POST', '/payouts/run', { partnerIds: [a.id, b.id], minimumAmount: { USD: '5.00' } })
    // a's 3.00 USD is below the minimum and waits.
    expect(
      run.payouts.map((p: { partnerId: string; amount: string; currency: string }) => [p.partnerId, p.amount, p.currency]).sort(),
    ).toEqual(
      [
        [a.id, '7.00', 'EUR'],
        [b.id, '7.00', 'EUR'],
      ].sort(),
    )
    const [first, second] = run.payouts
    const wrong = await call('POST', '/payouts/mark-paid', { payoutIds: [first.id, 'pay_nope'] })
    expect(wrong.status).toBe(404)
    await json('POST', '/payouts/mark-paid', { payoutIds: [first.id], reference: 'PP-1' })
    expect((await json('GET', `/payouts/${second.id}`)).status).toBe('pending')
    const twice = await call('POST', '/payouts/mark-paid', { payoutIds: [first.id] })
    expect(twice.status).toBe(409)
    expect(await twice.json()).toMatchObject({ error: 'payout_not_pending' })

    const csv = await call('GET', '/payouts/export.csv?format=paypal')
    expect(csv.headers.get('content-type')).toContain('text/csv')
    const lines = (await csv.text()).trim().split('\r\n')
    expect(lines).toContain(`${b.email},7.00,EUR,${second.id},Partner commissions`)
    expect(lines.some((l) => l.includes(first.id))).toBe(false) // paid, not pending

    await json('POST', '/payouts/mark-failed', { payoutIds: [second.id], reason: 'account closed' })
    const retry = await json('POST', '/payouts/run', { partnerIds: [b.id] })
    expect(retry.payouts).toEqual([expect.objectContaining({ amount: '7.00', currency: 'EUR' })])

    // Marked failed while a request marking it paid is still uncommitted: the second has read the
    // payout pending, and must not fail it (and free its commissions for another run) once the
    // first commits.
    const [again] = retry.payouts
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()
    let release!: () => void
    const hold = new Promise<void>((resolve) => (release = resolve))
    const paying = server.runtime.withTenant(tenant.id, async (scope) => {
      await markPaid(scope, [again.id], 'PP-2')
      await hold
    })
    await Bun.sleep(50)
    const failing = server.runtime.withTenant(tenant.id, (scope) => markFailed(scope, [again.id], 'bounced')).catch((err) => err)
    await Bun.sleep(100)
    release()
    await paying
    expect(await failing).toMatchObject({ status: 409, code: 'payout_not_pending' })
    expect((await json('GET', `/payouts/${again.id}`)).status).toBe('paid')
    const held = await inTenant((db) =>
      db.selectFrom('commissions').select(['status', 'payout_id']).where('partner_id', '=', b.id).execute(),
    )
    expect(held).toEqual([{ status: 'paid', payout_id: again.id }])
  })

  it('takes back a commission once when two refunds of its sale arrive at once', async () => {
    const prg = await program({ rules: [{ on: 'sale', amount: '10.00' }] })
    const ptn = await partner()
    await visit((await link(ptn.id, prg.id)).key, 'refunded-twice')
    const sale = await event({ userId: 'refunded-twice', type: 'sale', value: '100.00', currency: 'USD' })
    const [commission] = sale.commissions
    // Two events to name the refunds by (reverseCommission is called here as a refund calls it).
    const causes = [await event({ userId: 'refunded-twice', type: 'lead' }), await event({ userId: 'refunded-twice', type: 'lead' })]
    const row = await inTenant((db) => db.selectFrom('commissions').selectAll().where('id', '=', commission.id).executeTakeFirstOrThrow())
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()
    // Each refund takes back 6.00 of the 10.00; the second starts while the first is uncommitted.
    let release!: () => void
    const hold = new Promise<void>((resolve) => (release = resolve))
    const first = server.runtime.withTenant(tenant.id, async (scope) => {
      await reverseCommission(scope, row, 600, { eventId: causes[0].eventId, now: new Date() })
      await hold
    })
    await Bun.sleep(50)
    const second = server.runtime.withTenant(tenant.id, (scope) =>
      reverseCommission(scope, row, 600, { eventId: causes[1].eventId, now: new Date() }),
    )
    await Bun.sleep(100)
    release()
    await Promise.all([first, second])
    const back = await inTenant((db) =>
      db.selectFrom('commissions').select('amount_minor').where('reverses_id', '=', commission.id).execute(),
    )
    expect(back.map((r) => Number(r.amount_minor)).sort((a, b) => a - b)).toEqual([-600, -400])
  })

  it('refuses bad events with a clear 4xx and writes nothing', async () => {
    const count = () =>
      inTenant(async (db) =>
        Number(
          (
            await db
              .selectFrom('events')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        ),
      )
    const before = await count()
    const base = { userId: 'cust-bad', type: 'sale', value: '10.00', currency: 'USD' }
    const future = new Date(Date.now() + 3_600_000).toISOString()
    const cases: [Record<string, unknown>, number, string][] = [
      [{ ...base, currency: 'ABC' }, 400, 'unknown_currency'],
      [{ ...base, value: '-5.00' }, 400, 'invalid_amount'],
      [{ ...base, value: '1.001' }, 400, 'invalid_amount'],
      [{ ...base, value: '1e3' }, 400, 'invalid_amount'],
      // OpenPartner's numbers are judged as the decimals they are, never rounded.
      [{ ...base, value: 10.001 }, 400, 'invalid_amount'],
      [{ ...base, value: 0.1 + 0.2 }, 400, 'invalid_amount'],
      [{ ...base, value: -5 }, 400, 'invalid_amount'],
      [{ ...base, value: 1e21 }, 400, 'invalid_amount'],
      [{ ...base, ts: Date.now() + 3_600_000 }, 400, 'invalid_timestamp'],
      [{ ...base, ts: -1 }, 400, 'invalid_request'],
      [{ userId: 'cust-bad', type: 'sale' }, 400, 'invalid_amount'],
      [{ ...base, ts: future }, 400, 'invalid_timestamp'],
      [{ ...base, ts: '2001-01-01T00:00:00Z' }, 400, 'invalid_timestamp'],
      [{ ...base, ts: 'yesterday' }, 400, 'invalid_timestamp'],
      [{ ...base, metadata: { blob: 'x'.repeat(20_000) } }, 400, 'metadata_too_large'],
      [{ ...base, type: 'Sale!' }, 400, 'invalid_request'],
      [{ ...base, userId: '' }, 400, 'invalid_request'],
      [{ ...base, surprise: true }, 400, 'invalid_request'],
      [{ ...base, type: 'refund', refundOf: 'no-such-sale' }, 404, 'unknown_event'],
      [{ ...base, refundOf: 'x' }, 400, 'invalid_request'],
    ]
    for (const [body, status, error] of cases) {
      const res = await call('POST', '/attribution/events', { externalEventId: `bad-${++seq}`, ...body })
      const answer = await res.json()
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(status)
      expect(answer.error, JSON.stringify(answer)).toBe(error)
    }
    // Text PostgreSQL cannot store, and metadata nested 100k deep (200 KB, within the body limit),
    // which code walking it by recursion would overflow on: refused before any handler runs.
    const refused: [string, RegExp][] = [
      [JSON.stringify({ ...base, userId: 'cust\u0000bad', externalEventId: `bad-${++seq}` }), /body\.userId: text may not contain the NUL/],
      [
        `{"userId":"cust-bad","type":"lead","externalEventId":"bad-${++seq}","metadata":{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}}`,
        /body\.metadata\.a(\.0)+: nested deeper than 32 levels/,
      ],
    ]
    for (const [text, detail] of refused) {
      const res = await call('POST', '/attribution/events', text, { 'content-type': 'application/json' })
      const answer = await res.json()
      expect({ status: res.status, error: answer.error }).toEqual({ status: 400, error: 'invalid_request' })
      expect(answer.detail).toMatch(detail)
    }
    expect(await count()).toBe(before)
    const noKey = await server.call('POST', '/api/attribution/events', { body: { ...base, externalEventId: 'x' } })
    expect(noKey.status).toBe(401)
  })

  it('attributes a coupon redemption to its partner, idempotent on externalEventId', async () => {
    const prg = await program({ rules: [{ on: 'sale', percent: '15' }] })
    const ptn = await partner()
    const coupon = await json('POST', `/partners/${ptn.id}/coupons`, { code: 'spring-15', programId: prg.id })
    expect(coupon).toMatchObject({ code: 'SPRING-15', partnerId: ptn.id, programId: prg.id })
    const taken = await call('POST', `/partners/${(await partner()).id}/coupons`, { code: 'Spring-15', programId: prg.id })
    expect(taken.status).toBe(409)
    expect(await taken.json()).toMatchObject({ error: 'code_taken' })
    expect((await json('GET', `/partners/${ptn.id}/coupons`)).coupons.map((c: { code: string }) => c.code)).toEqual(['SPRING-15'])

    const body = { code: 'spring-15', userId: 'coupon-buyer', value: '40.00', currency: 'USD', externalEventId: 'order-coupon-1' }
    const first = await call('POST', '/coupons/redeem', body)
    expect(first.status).toBe(201)
    const redeemed = await first.json()
    expect(redeemed.commissions).toEqual([expect.objectContaining({ partnerId: ptn.id, amount: '6.00' })])
    const again = await call('POST', '/coupons/redeem', body)
    expect(again.status).toBe(200)
    expect((await again.json()).eventId).toBe(redeemed.eventId)
    const clicks = await inTenant((db) => db.selectFrom('clicks').select(['source']).where('partner_id', '=', ptn.id).execute())
    expect(clicks).toEqual([{ source: 'coupon' }]) // the replay made no second click
    const unknown = await call('POST', '/coupons/redeem', { ...body, code: 'NOPE-1', externalEventId: 'order-coupon-2' })
    expect(unknown.status).toBe(404)
    expect(await unknown.json()).toMatchObject({ error: 'coupon_not_found' })
  })

  it('counts clicks by quarter hour: a day in any time zone exactly, an edge inside a quarter hour takes it whole', async () => {
    const prg = await program({ rules: [{ on: 'sale', percent: '10' }] })
    const ptn = await partner()
    const code = `QUARTER-${++seq}`
    await json('POST', `/partners/${ptn.id}/coupons`, { code, programId: prg.id })
    // A day in Kathmandu (UTC+05:45) three days ago: it starts at 18:15 UTC the day before.
    const day = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10)
    const next = new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10)
    const start = Date.parse(`${day}T00:00:00+05:45`)
    const HOUR = 3_600_000
    // Coupon redemptions store their click at the event's time.
    for (const at of [start - 1, start, start + HOUR / 4 - 1, start + 24 * HOUR - 1, start + 24 * HOUR]) {
      const ts = new Date(at).toISOString()
      await json('POST', '/coupons/redeem', {
        code,
        userId: `quarter-${at}`,
        value: '1.00',
        currency: 'USD',
        externalEventId: `quarter-${at}`,
        ts,
      })
    }
    const clicks = async (from: string, to: string) =>
      (await json('GET', `/partners/${ptn.id}/stats?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`)).clicks.total
    expect(await clicks(`${day}T00:00:00+05:45`, `${next}T00:00:00+05:45`)).toBe(3)
    expect(await clicks(`${day}T00:05:00+05:45`, `${next}T00:00:00+05:45`)).toBe(3) // its first quarter hour, whole
    expect(await clicks(`${day}T00:00:00+05:45`, `${next}T00:00:00.001+05:45`)).toBe(4) // the next day's first
    expect(await clicks(`${day}T00:00:00+05:50`, `${next}T00:00:00+05:45`)).toBe(4) // from 18:10 UTC: 18:00-18:15 whole
    // The program's stats read the same counts.
    expect((await json('GET', `/programs/${prg.id}/stats`)).clicks).toEqual({ total: 5, flagged: 0 })
  })

  it('raised a domain event for every step, after its transaction committed', async () => {
    await new Promise((r) => setTimeout(r, 20))
    const types = new Set(events.map((e) => e.type))
    for (const type of [
      'partner.created',
      'partner.revoked',
      'partner.enrolled',
      'link.created',
      'attribution.created',
      'commission.accrued',
      'commission.flagged',
      'commission.approved',
      'commission.paid',
      'commission.reversed',
      'commission.voided',
      'payout.created',
      'payout.paid',
      'payout.failed',
    ]) {
      expect(types, type).toContain(type)
    }
    const paid = events.find((e) => e.type === 'payout.paid')!
    expect(paid.data).toMatchObject({ status: 'paid', reference: expect.any(String) })
    // A refused request raised nothing: no event names the rejected refund.
    expect(JSON.stringify(events)).not.toContain('r-big')
  })
})

describe.each(DIALECTS)('the approval job on %s', (dialect) => {
  it('approves commissions once their holdback is over, by itself', async () => {
    const server = await startTestServer(dialect, { commissions: { approve_interval_seconds: 1 } })
    try {
      const key = server.adminKey
      const post = async (path: string, body: unknown) => (await server.call('POST', `/api${path}`, { key, body })).json()
      const program = await post('/programs', {
        name: 'Job',
        currency: 'USD',
        status: 'active',
        destinationUrl: 'https://shop.example.com/',
        holdbackDays: 0,
        rules: [{ on: 'sale', amount: '1.00' }],
      })
      const partner = await post('/partners', { email: 'job@partners.example' })
      const link = await post('/links', { partnerId: partner.id, programId: program.id })
      const res = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
      await post('/attribution/identify', { cref: new URL(res.headers.get('location')!).searchParams.get('cref'), userId: 'job-1' })
      const sale = await post('/attribution/events', {
        userId: 'job-1',
        type: 'sale',
        value: '5.00',
        currency: 'USD',
        externalEventId: 'job-sale',
      })
      expect(sale.commissions[0].status).toBe('accrued')
      let status = 'accrued'
      for (let waited = 0; waited < 5000 && status !== 'approved'; waited += 100) {
        await new Promise((r) => setTimeout(r, 100))
        status = (await (await server.call('GET', `/api/commissions/${sale.commissions[0].id}`, { key })).json()).status
      }
      expect(status).toBe('approved')
    } finally {
      await server.stop()
    }
  })
})
