/**
 * Payment providers behind the one interface: a provider added by a plugin file pays or fails each
 * payout of a run, and partnerd settles them as mark-paid and mark-failed would. The provider here
 * stands in for a payment service (none can be reached from this machine): it pays up to 100.00.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS, tempDir } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const PROVIDER = `export default {
  name: 'ledger',
  version: '1.0.0',
  setup(host) {
    host.addPayoutProvider({
      name: 'ledger',
      async submit(payouts) {
        return payouts.map((p) =>
          Number(p.amount) <= 100
            ? { id: p.id, status: 'paid', reference: 'LEDGER-' + p.email }
            : { id: p.id, status: 'failed', reason: 'over the ledger limit' },
        )
      },
    })
  },
}
`

describe.each(DIALECTS)('payout providers on %s', (dialect) => {
  let server: TestServer
  beforeAll(async () => {
    const file = join(tempDir(), 'ledger.js')
    writeFileSync(file, PROVIDER)
    server = await startTestServer(dialect, { plugins: [{ path: file }] })
  })
  afterAll(() => server.stop())

  it('pays through the provider a run names, and settles what it answers', async () => {
    const key = server.adminKey
    const post = async (path: string, body: unknown) => {
      const res = await server.call('POST', `/api${path}`, { key, body })
      return { status: res.status, body: await res.json() }
    }
    const program = (
      await post('/programs', {
        name: 'P',
        currency: 'EUR',
        status: 'active',
        destinationUrl: 'https://shop.example.com/',
        holdbackDays: 0,
        rules: [{ on: 'sale', percent: '50' }],
      })
    ).body
    const partners: { id: string; email: string }[] = []
    for (const [i, value] of ['100.00', '400.00'].entries()) {
      const partner = (await post('/partners', { email: `ledger${i}@partners.example` })).body
      partners.push(partner)
      const link = (await post('/links', { partnerId: partner.id, programId: program.id })).body
      const res = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
      await post('/attribution/identify', {
        cref: new URL(res.headers.get('location')!).searchParams.get('cref'),
        userId: `ledger-customer-${i}`,
      })
      await post('/attribution/events', {
        userId: `ledger-customer-${i}`,
        type: 'sale',
        value,
        currency: 'EUR',
        externalEventId: `ledger-${i}`,
      })
    }
    await post('/commissions/approve-matured', {})
    const unknown = await post('/payouts/run', { method: 'wire' })
    expect(unknown.status).toBe(400)
    expect(unknown.body).toMatchObject({ error: 'unknown_method' })

    const run = await post('/payouts/run', { method: 'ledger' })
    expect(run.status).toBe(201)
    const byPartner = Object.fromEntries(run.body.payouts.map((p: { partnerId: string }) => [p.partnerId, p]))
    expect(byPartner[partners[0]!.id]).toMatchObject({
      amount: '50.00',
      method: 'ledger',
      status: 'paid',
      reference: 'LEDGER-ledger0@partners.example',
    })
    expect(byPartner[partners[1]!.id]).toMatchObject({ amount: '200.00', status: 'failed', failureReason: 'over the ledger limit' })
    // The failed payout's commissions wait for the next run; a manual one leaves it pending.
    const again = await post('/payouts/run', {})
    expect(again.body.payouts).toEqual([
      expect.objectContaining({ partnerId: partners[1]!.id, amount: '200.00', method: 'manual', status: 'pending' }),
    ])
  })
})
