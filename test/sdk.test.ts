/**
 * /sdk.js in a real browser: a visitor follows a partner link to the company's site (another origin),
 * the script keeps the cref from the URL, and identify, called on a later page without cref in its
 * URL, reaches partnerd through CORS and ties the click to the customer.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './support/browser.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const VISITOR = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36'

describe('the browser SDK in Chromium', () => {
  let server: TestServer
  let browser: Browser
  let site: ReturnType<typeof Bun.serve>

  beforeAll(async () => {
    server = await startTestServer('sqlite')
    browser = await launchChromium()
    // The company's site: another origin (localhost, not 127.0.0.1), with the script tag on every page.
    site = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: () =>
        new Response(`<!doctype html><title>Shop</title><script src="${server.url}/sdk.js"></script>`, {
          headers: { 'content-type': 'text/html' },
        }),
    })
  })
  afterAll(async () => {
    await browser?.close()
    site?.stop(true)
    await server?.stop()
  })

  it('carries cref from the landing URL to identify on a later page, across origins', async () => {
    const key = server.adminKey
    const call = async (path: string, body: unknown) => (await server.call('POST', `/api${path}`, { key, body })).json()
    const shop = `http://localhost:${site.port}`
    const program = await call('/programs', {
      name: 'Web',
      currency: 'USD',
      status: 'active',
      destinationUrl: `${shop}/landing`,
      rules: [{ on: 'sale', amount: '9.00' }],
    })
    const partner = await call('/partners', { email: 'web@partners.example' })
    const link = await call('/links', { partnerId: partner.id, programId: program.id })

    // Headless Chromium names itself in its user agent, and the router does not count such visits.
    const page = await browser.newPage({ userAgent: VISITOR })
    await page.goto(`${server.url}/r/${link.key}`)
    const landed = new URL(page.url())
    expect(`${landed.origin}${landed.pathname}`).toBe(`${shop}/landing`)
    const cref = landed.searchParams.get('cref')
    expect(cref).toMatch(/^clk_/)

    await page.goto(`${shop}/signup`) // no cref in this URL: the script finds it in its cookie
    expect(await page.evaluate(() => (window as unknown as { partnerd: { cref(): string } }).partnerd.cref())).toBe(cref)
    const answer = await page.evaluate(() =>
      (window as unknown as { partnerd: { identify(id: string): Promise<unknown> } }).partnerd.identify('web-user-1'),
    )
    expect(answer).toMatchObject({ ok: true, cref, userId: 'web-user-1', attributedEvents: 0, firstStitch: true })

    const sale = await call('/attribution/events', {
      userId: 'web-user-1',
      type: 'sale',
      value: '20.00',
      currency: 'USD',
      externalEventId: 'web-1',
    })
    expect(sale.commissions).toEqual([expect.objectContaining({ partnerId: partner.id, amount: '9.00' })])
    await page.close()
  })

  it('is refused from an origin that is not one of the programs’ hosts', async () => {
    const page = await browser.newPage({ userAgent: VISITOR })
    await page.goto(`http://127.0.0.1:${site.port}/?cref=clk_01ABCDEFGHJKMNPQRSTVWXYZ00`)
    const outcome = await page.evaluate(() =>
      (window as unknown as { partnerd: { identify(id: string): Promise<unknown> } }).partnerd.identify('intruder').then(
        () => 'answered',
        () => 'blocked',
      ),
    )
    expect(outcome).toBe('blocked')
    await page.close()
  })
})
