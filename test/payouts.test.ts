/**
 * POST /payouts/run with commissions due: a body that is not its object, or a currency partnerd
 * cannot pay in, is a 400 that runs nothing; it must not be read as "run with the defaults" (every
 * field of the body is optional, so `null` or `[]` came out as `{}`) nor as a filter matching nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe.each(DIALECTS)('payout runs on %s', (dialect) => {
  let server: TestServer
  const post = async (path: string, body: unknown) => {
    const res = await server.call('POST', `/api${path}`, { key: server.adminKey, body })
    return { status: res.status, body: await res.json() }
  }

  beforeAll(async () => {
    server = await startTestServer(dialect)
    const program = (
      await post('/programs', {
        name: 'Run',
        currency: 'USD',
        status: 'active',
        destinationUrl: 'https://run.example.com/',
        holdbackDays: 0,
        rules: [{ on: 'sale', percent: '10' }],
      })
    ).body
    const partner = (await post('/partners', { email: 'run@partners.example' })).body
    const link = (await post('/links', { partnerId: partner.id, programId: program.id })).body
    const click = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
    await post('/attribution/identify', { cref: new URL(click.headers.get('location')!).searchParams.get('cref'), userId: 'run-customer' })
    await post('/attribution/events', { userId: 'run-customer', type: 'sale', value: '80.00', currency: 'USD', externalEventId: 'run-1' })
    await post('/commissions/approve-matured', {})
  })
  afterAll(() => server.stop())

  it('refuses bodies that are not an object and currencies it cannot pay in, running nothing', async () => {
    const cases: [body: unknown, error: string, detail: RegExp][] = [
      ['null', 'invalid_request', /^body: must be a JSON object/],
      ['[]', 'invalid_request', /^body: must be a JSON object/],
      ['[{"currency":"USD"}]', 'invalid_request', /^body: must be a JSON object/],
      ['123', 'invalid_request', /^body: must be a JSON object/],
      ['true', 'invalid_request', /^body: must be a JSON object/],
      ['"USD"', 'invalid_request', /^body/],
      [{ currency: 'XXX' }, 'unknown_currency', /XXX/],
      [{ currency: 'ABC' }, 'unknown_currency', /ABC/],
      [{ currency: 'XAU' }, 'unknown_currency', /XAU/],
      [{ currency: 'usd' }, 'invalid_request', /body\.currency/],
      [{ minimumAmount: { XXX: '1.00' } }, 'unknown_currency', /XXX/],
      [{ minimumAmount: { USD: '-1' } }, 'invalid_amount', /minimumAmount\.USD/],
      [{ minimumReferrals: 'two' }, 'invalid_request', /body\.minimumReferrals/],
      [{ dryRun: true }, 'invalid_request', /body\.dryRun/],
    ]
    for (const [body, error, detail] of cases) {
      const res = await post('/payouts/run', body)
      expect({ body, status: res.status, error: res.body.error }).toEqual({ body, status: 400, error })
      expect(res.body.detail, JSON.stringify(body)).toMatch(detail)
    }
    const listed = await (await server.call('GET', '/api/payouts', { key: server.adminKey })).json()
    expect(listed.payouts).toEqual([])

    // What a run does take: no body at all, or its object.
    const run = await post('/payouts/run', { currency: 'USD' })
    expect(run.status, JSON.stringify(run.body)).toBe(201)
    expect(run.body.payouts.map((p: { amount: string }) => p.amount)).toEqual(['8.00'])
    const again = await server.call('POST', '/api/payouts/run', { key: server.adminKey })
    expect(again.status).toBe(201)
    expect((await again.json()).payouts).toEqual([])
  })
})
