import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const program = {
  name: 'Launch',
  currency: 'USD',
  destinationUrl: 'https://shop.example.com/pricing',
  deepLinkHosts: ['shop.example.com', 'Blog.Example.com'],
  rules: [
    { on: 'signup', amount: '5.00' },
    { on: 'sale', percent: '30', recurring: { lifetime: true }, stepDown: { afterMonths: 3, percent: '10' } },
  ],
}

describe.each(DIALECTS)('programs on %s', (dialect) => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer(dialect)
  })
  afterAll(() => server.stop())

  const create = (body: unknown) => server.call('POST', '/api/programs', { key: server.adminKey, body })

  it('creates a draft with defaults and reads the rules back in the shape they were given', async () => {
    const res = await create(program)
    expect(res.status).toBe(201)
    const created = await res.json()
    expect(created).toMatchObject({
      status: 'draft',
      currency: 'USD',
      deepLinkHosts: ['shop.example.com', 'blog.example.com'],
      attribution: { windowDays: 60, model: 'last_click' },
      holdbackDays: 30,
      rules: program.rules,
    })
    expect(created.id).toMatch(/^prg_[0-9A-Z]{26}$/)
    expect(await (await server.call('GET', `/api/programs/${created.id}`, { key: server.adminKey })).json()).toEqual(created)
  })

  it('keeps money exact in each currency', async () => {
    const yen = await (await create({ ...program, currency: 'JPY', rules: [{ on: 'signup', amount: '500' }] })).json()
    expect(yen.rules).toEqual([{ on: 'signup', amount: '500' }])
    const dinar = await (await create({ ...program, currency: 'KWD', rules: [{ on: 'signup', amount: '1.5' }] })).json()
    expect(dinar.rules).toEqual([{ on: 'signup', amount: '1.500' }])
  })

  it('refuses rules and settings that make no sense, writing nothing', async () => {
    const before = (await (await server.call('GET', '/api/programs?limit=200', { key: server.adminKey })).json()).programs.length
    const cases: [Record<string, unknown>, string][] = [
      [{ currency: 'ABC' }, 'unknown_currency'],
      [{ currency: 'usd' }, 'invalid_request'],
      [{ rules: [{ on: 'signup', amount: '5.001' }] }, 'invalid_amount'],
      [{ rules: [{ on: 'signup', amount: '-5' }] }, 'invalid_amount'],
      [{ rules: [{ on: 'signup', percent: '10' }] }, 'invalid_rules'],
      [{ rules: [{ on: 'sale', percent: '10', amount: '1.00' }] }, 'invalid_rules'],
      [{ rules: [{ on: 'sale', percent: '101' }] }, 'invalid_percent'],
      [{ rules: [{ on: 'sale', percent: '10', stepDown: { afterMonths: 2, percent: '5' } }] }, 'invalid_rules'],
      [{ rules: [{ on: 'sale', percent: '10', recurring: { months: 3 }, stepDown: { afterMonths: 3, percent: '5' } }] }, 'invalid_rules'],
      [
        {
          rules: [
            { on: 'sale', percent: '10' },
            { on: 'sale', percent: '20' },
          ],
        },
        'invalid_rules',
      ],
      [{ destinationUrl: 'javascript:alert(1)' }, 'invalid_destination'],
      [{ destinationUrl: '/relative' }, 'invalid_destination'],
      [{ deepLinkHosts: ['https://evil.com'] }, 'invalid_deep_link_host'],
      [{ deepLinkHosts: ['good.com@evil.com'] }, 'invalid_deep_link_host'],
      [{ attribution: { windowDays: 0 } }, 'invalid_request'],
      [{ status: 'archived' }, 'invalid_status'],
      [{ surprise: true }, 'invalid_request'],
    ]
    for (const [change, error] of cases) {
      const res = await create({ ...program, ...change })
      expect(res.status, JSON.stringify(change)).toBe(400)
      expect((await res.json()).error, JSON.stringify(change)).toBe(error)
    }
    const after = (await (await server.call('GET', '/api/programs?limit=200', { key: server.adminKey })).json()).programs.length
    expect(after).toBe(before)
  })

  it('changes a program: currency only while a draft, nothing once archived', async () => {
    const { id } = await (await create({ ...program, rules: [{ on: 'sale', percent: '20' }] })).json()
    const patch = (body: unknown) => server.call('PATCH', `/api/programs/${id}`, { key: server.adminKey, body })
    expect(await (await patch({ currency: 'EUR' })).json()).toMatchObject({ currency: 'EUR' })
    expect(await (await patch({ status: 'active', attribution: { model: 'position' } })).json()).toMatchObject({
      status: 'active',
      attribution: { model: 'position', windowDays: 60 },
    })
    const locked = await patch({ currency: 'GBP' })
    expect(locked.status).toBe(409)
    expect(await locked.json()).toMatchObject({ error: 'currency_locked' })
    expect((await patch({ status: 'archived' })).status).toBe(200)
    expect((await patch({ name: 'Again' })).status).toBe(409)
    expect((await server.call('GET', '/api/programs?status=archived', { key: server.adminKey })).status).toBe(200)
  })

  it('lets only admins manage programs', async () => {
    const reader = (
      await (await server.call('POST', '/api/api-keys', { key: server.adminKey, body: { name: 'r', scopes: ['partners:read'] } })).json()
    ).key
    expect((await server.call('POST', '/api/programs', { key: reader, body: program })).status).toBe(403)
    expect((await server.call('GET', '/api/programs', { key: reader })).status).toBe(200)
  })
})
