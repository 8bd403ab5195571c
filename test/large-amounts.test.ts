/**
 * Money at its limits, over HTTP on both databases: every route that takes an amount refuses one over
 * the documented maximum (10^15 minor units) with 400, and sums far past 2^53 minor units (many
 * commissions of the maximum in one payout) come back exact from the database, in every place that
 * shows them: the payout run, its list, the CSV exports, mark-paid, the reports and the tenant export.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MAX_AMOUNT_MINOR } from '../src/money/money.ts'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

/** 10^15 cents: the largest amount in USD. */
const MAX_USD = '10000000000000.00'

describe.each(DIALECTS)('amounts at the limit on %s', (dialect) => {
  let server: TestServer
  const call = (method: string, path: string, body?: unknown) => server.call(method, `/api${path}`, { key: server.adminKey, body })
  const json = async (method: string, path: string, body?: unknown) => {
    const res = await call(method, path, body)
    const text = await res.text()
    expect([200, 201], `${method} ${path}: ${text}`).toContain(res.status)
    return JSON.parse(text)
  }
  /** The request is refused as too large an amount: 400, and the detail names the maximum. */
  const tooLarge = async (method: string, path: string, body: unknown, maximum = MAX_USD) => {
    const res = await call(method, path, body)
    const data = await res.json()
    expect(res.status, `${method} ${path}: ${JSON.stringify(data)}`).toBe(400)
    expect(data.error).toBe('invalid_amount')
    expect(data.detail).toContain(`at most ${maximum}`)
    return data
  }
  let seq = 0
  /** The tenant export taken after the large payout, and that payout's id. */
  let document: unknown
  let bigPayout = ''
  /** A program paying 100% of every sale (recurring for life), a partner, and a customer it referred. */
  const referred = async () => {
    const program = await json('POST', '/programs', {
      name: `Whale ${++seq}`,
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://shop.example.com/',
      holdbackDays: 0,
      rules: [{ on: 'sale', percent: '100', recurring: { lifetime: true } }],
    })
    const partner = await json('POST', '/partners', { email: `whale${seq}@partners.example` })
    const link = await json('POST', '/links', { partnerId: partner.id, programId: program.id })
    const click = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 Firefox/140.0' } })
    const cref = new URL(click.headers.get('location')!).searchParams.get('cref')!
    const userId = `whale-customer-${seq}`
    await json('POST', '/attribution/identify', { cref, userId })
    return { program, partner, userId }
  }
  const sale = (userId: string, value: string, currency = 'USD') =>
    call('POST', '/attribution/events', { userId, type: 'sale', value, currency, externalEventId: `sale-${++seq}` })

  beforeAll(async () => {
    server = await startTestServer(dialect, { tracking: { velocity_per_minute: 1000, max_per_minute: 2000 } })
  })
  afterAll(() => server.stop())

  it('documents one maximum: 10^15 minor units, whatever the currency', () => {
    expect(MAX_AMOUNT_MINOR).toBe(10 ** 15)
  })

  it('refuses an amount over the maximum on every route that takes money, and writes nothing', async () => {
    const { program, partner, userId } = await referred()
    // The amount of the report: three of them made a payout one cent off. Each is over the maximum now.
    await tooLarge('POST', '/attribution/events', {
      userId,
      type: 'sale',
      value: '90071992547409.91',
      currency: 'USD',
      externalEventId: 'x1',
    })
    await tooLarge('POST', '/attribution/events', {
      userId,
      type: 'sale',
      value: '10000000000000.01',
      currency: 'USD',
      externalEventId: 'x2',
    })
    await tooLarge(
      'POST',
      '/attribution/events',
      { userId, type: 'sale', value: '1000000000000001', currency: 'JPY', externalEventId: 'x3' },
      '1000000000000000',
    )
    await tooLarge(
      'POST',
      '/attribution/events',
      { userId, type: 'sale', value: '1000000000000.001', currency: 'KWD', externalEventId: 'x4' },
      '1000000000000.000',
    )
    await tooLarge('POST', '/attribution/events', { userId, type: 'sale', value: '9'.repeat(32), currency: 'USD', externalEventId: 'x5' })
    // A refund names its value too.
    expect((await sale(userId, '10.00')).status).toBe(200)
    await tooLarge('POST', '/attribution/events', {
      userId,
      type: 'refund',
      value: '10000000000000.01',
      currency: 'USD',
      externalEventId: 'x6',
      refundOf: `sale-${seq}`,
    })
    // A coupon's conversion.
    await json('POST', `/partners/${partner.id}/coupons`, { code: `WHALE${seq}`, programId: program.id })
    await tooLarge('POST', '/coupons/redeem', {
      code: `WHALE${seq}`,
      userId: 'coupon-whale',
      value: '10000000000000.01',
      currency: 'USD',
      externalEventId: 'x7',
    })
    // A program's fixed amounts, made or changed.
    const base = { currency: 'USD', destinationUrl: 'https://shop.example.com/' }
    await tooLarge('POST', '/programs', { ...base, name: 'Too generous', rules: [{ on: 'signup', amount: '10000000000000.01' }] })
    await tooLarge('PATCH', `/programs/${program.id}`, { rules: [{ on: 'signup', amount: '10000000000000.01' }] })
    // A payout run's minimum.
    await tooLarge('POST', '/payouts/run', { minimumAmount: { USD: '10000000000000.01' } })

    const events = await json('GET', `/partners/${partner.id}/commissions`)
    expect(events.commissions).toHaveLength(1) // the 10.00 sale's, nothing else
    expect((await json('GET', `/programs/${program.id}`)).rules).toEqual([{ on: 'sale', percent: '100', recurring: { lifetime: true } }])
    expect((await json('GET', '/programs')).programs.map((p: { name: string }) => p.name)).not.toContain('Too generous')
    // The maximum itself is an amount like any other.
    const atMax = await sale(userId, MAX_USD)
    expect(atMax.status).toBe(200)
    expect((await atMax.json()).commissions).toEqual([expect.objectContaining({ amount: MAX_USD })])
  })

  it('pays a sum far past 2^53 minor units exactly: run, list, exports, mark-paid, reports, tenant export', async () => {
    const { program, partner, userId } = await referred()
    // Ten sales of the maximum and one of a cent: 10^16 + 1 cents, which no float holds (it reads 10^16).
    const commissionIds: string[] = []
    for (const value of [...Array(10).fill(MAX_USD), '0.01']) {
      const res = await sale(userId, value)
      expect(res.status).toBe(200)
      commissionIds.push(...(await res.json()).commissions.map((c: { id: string }) => c.id))
    }
    expect(commissionIds).toHaveLength(11)
    const total = '100000000000000.01'
    const cents = total.replace('.', '')
    expect(BigInt(cents)).toBeGreaterThan(BigInt(Number.MAX_SAFE_INTEGER))
    expect(BigInt(Number(cents))).toBe(10n ** 16n) // what a float makes of it: one cent off

    for (const id of commissionIds) await json('POST', `/commissions/${id}/approve`)
    const run = await json('POST', '/payouts/run', { partnerIds: [partner.id] })
    expect(run.payouts).toEqual([expect.objectContaining({ partnerId: partner.id, amount: total, currency: 'USD', commissionCount: 11 })])
    const payoutId = run.payouts[0].id

    expect((await json('GET', `/payouts/${payoutId}`)).amount).toBe(total)
    expect((await json('GET', `/payouts?partnerId=${partner.id}`)).payouts.map((p: { amount: string }) => p.amount)).toEqual([total])
    expect((await json('GET', `/partners/${partner.id}/payouts`)).payouts.map((p: { amount: string }) => p.amount)).toEqual([total])
    expect((await json('GET', '/overview')).pending.totals.USD).toBe(total)
    const overview = await json('GET', `/overview?programId=${program.id}`)
    expect(overview.earned.USD).toBe(total)
    expect(overview.now.revenue.USD).toBe(total)
    expect(overview.commissions.approved.USD).toBe(total)
    const byDay = overview.days.reduce(
      (sum: bigint, d: { revenue: { USD?: string } }) => sum + BigInt((d.revenue.USD ?? '0').replace('.', '')),
      0n,
    )
    expect(byDay).toBe(10_000_000_000_000_001n)

    const generic = await call('GET', '/payouts/export.csv')
    expect(generic.status).toBe(200)
    const row = (await generic.text()).split('\r\n').find((line) => line.startsWith(payoutId))!
    expect(row.split(',')[4]).toBe(total)
    const paypal = await call('GET', '/payouts/export.csv?format=paypal')
    expect(
      (await paypal.text())
        .split('\r\n')
        .find((line) => line.includes(payoutId))!
        .split(',')[1],
    ).toBe(total)

    const stats = await json('GET', `/partners/${partner.id}/stats`)
    expect(stats.revenue.USD).toBe(total)
    expect(stats.commissions.approved.USD).toBe(total)
    expect((await json('GET', `/programs/${program.id}/stats`)).revenue.USD).toBe(total)
    const listed = await json('GET', `/partners?email=${encodeURIComponent(partner.email)}&totals=true`)
    expect(listed.partners[0].totals).toMatchObject({ revenue: { USD: total }, earned: { USD: total } })

    const paid = await json('POST', '/payouts/mark-paid', { payoutIds: [payoutId], reference: 'WIRE-1' })
    expect(paid.payouts).toEqual([expect.objectContaining({ id: payoutId, amount: total, status: 'paid' })])
    expect((await json('GET', `/payouts/${payoutId}`)).amount).toBe(total)
    expect((await json('GET', `/partners/${partner.id}/stats`)).commissions.paid.USD).toBe(total)
    const csv = await call('GET', '/payouts/export.csv?status=paid')
    expect(
      (await csv.text())
        .split('\r\n')
        .find((line) => line.startsWith(payoutId))!
        .split(',')[4],
    ).toBe(total)

    // The tenant export keeps the sum exact (as text: a JSON number that large would not survive a parser).
    const exported = await json('GET', '/export')
    expect(exported.payouts.find((p: { id: string }) => p.id === payoutId).amount_minor).toBe('10000000000000001')
    document = exported
    bigPayout = payoutId
  })

  it('imports the export into an empty tenant exactly, and refuses one whose amounts are over the maximum', async () => {
    const empty = await startTestServer(dialect)
    try {
      const importing = (doc: unknown) => empty.call('POST', '/api/import', { key: empty.adminKey, body: doc })
      const tampered = structuredClone(document) as { commissions: { amount_minor: unknown }[]; events: { value_minor: unknown }[] }
      tampered.commissions[0]!.amount_minor = MAX_AMOUNT_MINOR + 1
      const refused = await importing(tampered)
      expect(refused.status).toBe(400)
      expect(await refused.json()).toMatchObject({ error: 'invalid_export', detail: expect.stringContaining('commissions.0.amount_minor') })
      const notInteger = structuredClone(document) as typeof tampered
      notInteger.events[0]!.value_minor = 12.5
      expect((await importing(notInteger)).status).toBe(400)
      expect((await empty.call('GET', '/api/partners', { key: empty.adminKey }).then((r) => r.json())).partners).toEqual([])

      const imported = await importing(document)
      expect(imported.status, await imported.clone().text()).toBe(201)
      const payout = await (await empty.call('GET', `/api/payouts/${bigPayout}`, { key: empty.adminKey })).json()
      expect(payout.amount).toBe('100000000000000.01')
    } finally {
      await empty.stop()
    }
  })

  it('reads back every integer a money column holds, exactly, and small ones as numbers', async () => {
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()
    const big = 2n ** 62n + 1n // far past 2^53, inside a 64-bit integer
    const { partner } = await referred()
    const rows = await server.runtime.withTenant(tenant.id, async (scope) => {
      const at = new Date().toISOString()
      const row = {
        tenant_id: tenant.id,
        partner_id: partner.id,
        currency: 'USD',
        commission_count: 0,
        status: 'failed' as const,
        method: 'manual',
      }
      const times = { reference: null, failure_reason: null, created_at: at, updated_at: at, paid_at: null }
      await scope.db
        .insertInto('payouts')
        .values([
          { ...row, ...times, id: `pay_big_${seq}`, amount_minor: big },
          { ...row, ...times, id: `pay_neg_${seq}`, amount_minor: -big },
          { ...row, ...times, id: `pay_small_${seq}`, amount_minor: 1234 },
        ])
        .execute()
      const read = await scope.db
        .selectFrom('payouts')
        .select(['id', 'amount_minor'])
        .where('id', 'like', `pay_%_${seq}`)
        .orderBy('id')
        .execute()
      const sum = await scope.db
        .selectFrom('payouts')
        .select((eb) => eb.fn.sum<number | bigint | string>('amount_minor').as('total'))
        .where('id', 'in', [`pay_big_${seq}`, `pay_small_${seq}`])
        .executeTakeFirstOrThrow()
      await scope.db.deleteFrom('payouts').where('id', 'like', `pay_%_${seq}`).execute()
      return { read, sum: sum.total }
    })
    expect(rows.read.map((r) => [r.id, r.amount_minor])).toEqual([
      [`pay_big_${seq}`, big],
      [`pay_neg_${seq}`, -big],
      [`pay_small_${seq}`, 1234],
    ])
    expect(BigInt(rows.sum)).toBe(big + 1234n)
  })
})
