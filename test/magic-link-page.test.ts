/** The mailed sign-in link in a real browser: opening it signs nobody in; confirming does. */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findTenantBySlug } from '../src/tenants/service.ts'
import { addMembership, createUser } from '../src/users/service.ts'
import { launchChromium } from './support/browser.ts'
import { startTestServer, type TestServer } from './support/server.ts'
import { type Inbox, startInbox } from './support/smtp.ts'

describe('the magic link page in Chromium', () => {
  let server: TestServer
  let inbox: Inbox
  let browser: Browser
  beforeAll(async () => {
    inbox = await startInbox()
    server = await startTestServer('sqlite', { mail: { transport: 'smtp', smtp_url: inbox.url }, plugins: [{ builtin: 'magic' }] })
    const { db } = server.runtime.database
    const tenant = (await findTenantBySlug(db, 'default'))!
    const user = await createUser(db, { email: 'browser@example.com' })
    await server.runtime.withTenant(tenant.id, (s) => addMembership(s, user.id, 'member'))
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await inbox?.close()
  })

  it('asks to confirm, signs in on the click, and keeps the token out of requests', async () => {
    await server.call('POST', '/api/auth/magic/start', { body: { email: 'browser@example.com' } })
    const text = (await inbox.next('browser@example.com')).text!
    const mailed = new URL(text.match(/(http\S+\/auth\/magic\/link#\S+)/)![1]!)
    const context = await browser.newContext()
    const page = await context.newPage()
    const requested: string[] = []
    page.on('request', (r) => void requested.push(r.url()))

    await page.goto(`${server.url}${mailed.pathname}${mailed.hash}`)
    await expect(page.locator('h1').innerText()).resolves.toBe('Sign in')
    expect((await context.cookies()).map((c) => c.name)).not.toContain('op_session') // opening alone signs nobody in

    await page.click('#confirm')
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.includes('signed in'))
    const session = (await context.cookies()).find((c) => c.name === 'op_session')
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' })
    expect(new URL(page.url()).hash).toBe('') // the token leaves the address bar
    const me = await page.evaluate(async () => (await fetch('/api/auth/session')).json())
    expect(me).toMatchObject({ user: { email: 'browser@example.com' } })
    for (const url of requested) expect(url).not.toContain(mailed.hash.slice(1))

    const again = await context.newPage()
    await again.goto(`${server.url}${mailed.pathname}${mailed.hash}`)
    await again.click('#confirm')
    await again.waitForFunction(() => document.getElementById('status')?.textContent?.includes('used or expired'))
    await context.close()
  })
})
