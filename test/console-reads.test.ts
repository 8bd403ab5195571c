/**
 * What the console remembers across pages (web/console-reads.ts: the navigation's badges, the
 * programs' and partners' names; the signed-in person's email), on both databases: a change made on
 * this instance shows on the very next page; one made where no event reports it (another instance,
 * the CLI) shows once CONSOLE_READS_MS has passed, not before.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { findTenantBySlug } from '../src/tenants/service.ts'
import { addMembership, createUser } from '../src/users/service.ts'
import { CONSOLE_READS_MS } from '../src/web/console-reads.ts'
import { form, get, type Session, signIn } from './support/console.ts'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const PASSWORD = 'console reads password 1'

describe.each(DIALECTS)('what the console remembers, on %s', (dialect) => {
  let server: TestServer
  let owner: Session
  let tenantId: string
  const ids: Record<string, string> = {}

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await server.call(method, `/api${path}`, { key: server.adminKey, body })
    const data = await res.json()
    expect(res.status, `${method} ${path}: ${JSON.stringify(data)}`).toBeLessThan(300)
    return data
  }
  const page = async (path: string) => {
    const res = await get(server, path, owner)
    expect(res.status).toBe(200)
    return res.text()
  }
  /** The flagged count beside Commissions in the navigation, or 0 when there is none. */
  const flaggedBadge = (html: string) =>
    Number(/<span class="count">(\d+)<span class="visually-hidden"> flagged for review/.exec(html)?.[1] ?? 0)

  beforeAll(async () => {
    server = await startTestServer(dialect, { server: { host: '127.0.0.1', port: 0, public_url: 'http://127.0.0.1:9' } })
    tenantId = (await findTenantBySlug(server.runtime.database.db, 'default'))!.id
    const program = await api('POST', '/programs', {
      name: 'Launch',
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://shop.example.com/',
      holdbackDays: 0,
      rules: [{ on: 'sale', percent: '10' }],
    })
    ids.program = program.id
    ids.partner = (await api('POST', '/partners', { email: 'grace@partners.example', name: 'Grace' })).id
    await api('POST', '/links', { partnerId: ids.partner, programId: program.id, key: 'grace' })
    const click = await fetch(`${server.url}/r/grace`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 Firefox/140.0' } })
    await api('POST', '/attribution/identify', { cref: new URL(click.headers.get('location')!).searchParams.get('cref'), userId: 'c1' })
    // A sale credited to a revoked partner waits in review.
    await api('POST', `/partners/${ids.partner}/revoke`)
    const sale = await api('POST', '/attribution/events', {
      userId: 'c1',
      type: 'sale',
      value: '100.00',
      currency: 'USD',
      externalEventId: 's1',
    })
    ids.commission = sale.commissions[0].id
    expect(sale.commissions[0].status).toBe('flagged')
    await api('POST', `/partners/${ids.partner}/reinstate`)
    const user = await createUser(server.runtime.database.db, { email: 'owner@example.com', password: PASSWORD })
    await server.runtime.withTenant(tenantId, (scope) => addMembership(scope, user.id, 'owner'))
    owner = await signIn(server, 'owner@example.com', PASSWORD)
  })
  afterAll(() => server.stop())
  afterEach(() => vi.useRealTimers())

  it('drops the flagged badge on the page after a reviewer clears the commission', async () => {
    expect(flaggedBadge(await page('/admin'))).toBe(1)
    expect(flaggedBadge(await page('/admin/commissions'))).toBe(1)
    const cleared = await form(server, '/admin/commissions/apply', { action: 'clear', ids: ids.commission!, confirmed: 'yes' }, owner)
    expect(cleared.status).toBe(303)
    expect(cleared.headers.get('location')).toBe('/admin/commissions')
    // The message the next page shows, in its own words.
    const flash = cleared.headers.getSetCookie().find((c) => c.startsWith('op_flash='))!
    expect(JSON.parse(Buffer.from(flash.split(';')[0]!.slice('op_flash='.length), 'base64url').toString())).toMatchObject({
      text: 'Cleared 1 commission.',
    })
    expect(flaggedBadge(await page('/admin/commissions'))).toBe(0)
  })

  it("shows a program's and a partner's new names on the next page", async () => {
    expect(await page('/admin/commissions')).toContain('>Launch<')
    await api('PATCH', `/programs/${ids.program}`, { name: 'Relaunch' })
    await api('PATCH', `/partners/${ids.partner}`, { name: 'Grace Hopper' })
    const next = await page('/admin/commissions')
    expect(next).toContain('>Relaunch<')
    expect(next).not.toContain('>Launch<')
    expect(next).toContain('>Grace Hopper</a>')
  })

  it('shows a change no event reports (another instance, the CLI) once CONSOLE_READS_MS has passed', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() })
    expect(await page('/admin/commissions')).toContain('>Grace Hopper</a>')
    await server.runtime.withTenant(tenantId, ({ db }) =>
      db.updateTable('partners').set({ name: 'Amazing Grace' }).where('id', '=', ids.partner!).execute(),
    )
    expect(await page('/admin/commissions')).toContain('>Grace Hopper</a>')
    vi.setSystemTime(Date.now() + CONSOLE_READS_MS + 1)
    expect(await page('/admin/commissions')).toContain('>Amazing Grace</a>')
  })

  it("shows the person's new email in the menu on the next page", async () => {
    expect(await page('/admin')).toContain('owner@example.com')
    await server.runtime.database.db
      .updateTable('users')
      .set({ email: 'boss@example.com' })
      .where('email', '=', 'owner@example.com')
      .execute()
    const next = await page('/admin')
    expect(next).toContain('boss@example.com')
    expect(next).not.toContain('owner@example.com')
  })
})
