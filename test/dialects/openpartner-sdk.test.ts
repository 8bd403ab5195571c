/**
 * OpenPartner's own SDK against partnerd, unchanged (test/dialects/openpartner-sdk/, as OpenPartner
 * ships it), on both databases:
 *
 * - its browser SDK in Chromium, bundled by Bun from its TypeScript as it is, on a shop whose partner
 *   links live on a subdomain: the router on go.shop.test sets `_cref` for shop.test
 *   (tracking.cookie_domain), the SDK on www.shop.test keeps the click from the landing URL, finds it
 *   again in document.cookie once the URL and its storage have lost it, and its identify reaches
 *   partnerd's API across origins (CORS);
 * - its server SDK's trackEvent and identify, at /api and at /api/t/<slug> in multi mode, including
 *   how it reads partnerd's refusals (OpenPartnerError with status and code).
 */
import { randomBytes } from 'node:crypto'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTenant } from '../../src/tenants/service.ts'
import { launchChromium } from '../support/browser.ts'
import { DIALECTS } from '../support/databases.ts'
import { startTestServer, type TestServer } from '../support/server.ts'
import { OpenPartnerError, OpenPartnerServer } from './openpartner-sdk/server.ts'

const VISITOR = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36'
const SDK_ENTRY = new URL('./openpartner-sdk/browser.ts', import.meta.url).pathname

/** The browser SDK as a shop would serve it: OpenPartner's TypeScript, bundled for browsers. */
async function bundledBrowserSdk(): Promise<string> {
  const built = await Bun.build({ entrypoints: [SDK_ENTRY], target: 'browser', format: 'esm' })
  if (!built.success) throw new Error(built.logs.join('\n'))
  return built.outputs[0]!.text()
}

type Json = Record<string, any>

describe.each(DIALECTS)('OpenPartner’s SDK against partnerd on %s', (dialect) => {
  let server: TestServer
  let browser: Browser
  let site: ReturnType<typeof Bun.serve>
  let op: OpenPartnerServer
  let routerPort: string
  let seq = 0
  const api = async (method: string, path: string, body?: unknown): Promise<Json> => {
    const res = await server.call(method, `/api${path}`, { key: server.adminKey, body })
    const data = await res.json()
    expect(res.status, `${method} ${path}: ${JSON.stringify(data)}`).toBeLessThan(300)
    return data
  }
  /** A click through the router, as a browser would follow it (without following the redirect). */
  const click = async (linkKey: string) => {
    const res = await fetch(`${server.url}/r/${linkKey}`, { redirect: 'manual', headers: { 'user-agent': VISITOR } })
    expect(res.status).toBe(302)
    return new URL(res.headers.get('location')!).searchParams.get('cref')!
  }
  /** A program in OpenPartner's shape, a partner and a link of theirs. */
  const referral = async (destinationUrl = 'https://shop.example.com/signup') => {
    const program = await api('POST', '/programs', {
      name: `Program ${++seq}`,
      commissionRule: { type: 'percent', value: 20 },
      destinationUrl,
    })
    const partner = await api('POST', '/partners', { email: `sdk-${++seq}@partners.example`, name: 'Ada' })
    const link = await api('POST', `/partners/${partner.id}/links`, { linkKey: `sdk-${dialect}-${++seq}`, programId: program.id })
    return { program, partner, link }
  }

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      // The router's public name is go.shop.test; the cookie it sets is for all of shop.test.
      server: { host: '127.0.0.1', port: 0, public_url: 'http://go.shop.test' },
      tracking: { cookie_domain: 'shop.test', velocity_per_minute: 1000, max_per_minute: 2000 },
    })
    routerPort = new URL(server.url).port
    op = new OpenPartnerServer({ apiUrl: `${server.url}/api`, apiKey: server.adminKey })
    const sdk = await bundledBrowserSdk()
    const apiUrl = `http://go.shop.test:${routerPort}/api`
    // The shop: every page initialises the SDK, as OpenPartner's README says to.
    site = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: (request) =>
        new URL(request.url).pathname === '/openpartner.js'
          ? new Response(sdk, { headers: { 'content-type': 'text/javascript' } })
          : new Response(
              `<!doctype html><title>Shop</title><script type="module">
                import { OpenPartner } from '/openpartner.js'
                window.op = OpenPartner.init({ apiUrl: '${apiUrl}', onError: (err) => { window.opError = { status: err.status, code: err.code } } })
              </script>`,
              { headers: { 'content-type': 'text/html' } },
            ),
    })
    // Both names are this machine: nothing leaves it.
    browser = await launchChromium(['--host-resolver-rules=MAP *.shop.test 127.0.0.1'])
  })
  afterAll(async () => {
    await browser?.close()
    site?.stop(true)
    await server?.stop()
  })

  it('browser: keeps the click from the landing URL, finds it in the router’s cookie later, and identify ties it', async () => {
    const shop = `http://www.shop.test:${site.port}`
    const { partner, link } = await referral(`${shop}/landing`)
    const context = await browser.newContext({ userAgent: VISITOR })
    const page = await context.newPage()
    await page.goto(`http://go.shop.test:${routerPort}/r/${link.linkKey}`)
    const landed = new URL(page.url())
    expect(`${landed.origin}${landed.pathname}`).toBe(`${shop}/landing`)
    const cref = landed.searchParams.get('cref')!
    expect(cref).toMatch(/^clk_/)
    type Sdk = { op: { getCref(): string | null; identify(userId: string): Promise<unknown> }; opError?: unknown }
    expect(await page.evaluate(() => (window as unknown as Sdk).op.getCref())).toBe(cref)

    // The router's cookie: for the whole shop.test, and readable by the shop's scripts.
    const cookie = (await context.cookies(shop)).find((c) => c.name === '_cref')
    expect(cookie).toMatchObject({ value: cref, domain: '.shop.test', httpOnly: false, sameSite: 'Lax' })

    // Storage lost (another device profile, ITP), and a page without cref: the SDK falls back to document.cookie.
    await page.evaluate(() => localStorage.clear())
    await page.goto(`${shop}/signup`)
    expect(await page.evaluate(() => document.cookie)).toContain(`_cref=${cref}`)
    expect(await page.evaluate(() => (window as unknown as Sdk).op.getCref())).toBe(cref)
    const userId = `browser-user-${dialect}`
    const tie = await page.evaluate((id) => (window as unknown as Sdk).op.identify(id), userId)
    expect(await page.evaluate(() => (window as unknown as Sdk).opError)).toBeUndefined()
    expect(tie).toMatchObject({ ok: true, identityId: `idn_${cref.slice(4)}`, firstStitch: true, backfilledAttributions: 0 })
    await context.close()

    // The shop's server reports the payment with OpenPartner's server SDK.
    const paid = await op.trackEvent({ userId, type: 'invoice_paid', value: 249, currency: 'USD' })
    expect(paid.ok).toBe(true)
    expect(paid.attribution).toMatchObject({
      status: 'attributed',
      model: 'last_click',
      touches: [{ clickId: cref, partnerId: partner.id, weight: 1, attributionId: expect.stringMatching(/^att_/) }],
    })
    const commissions = (await api('GET', `/partners/${partner.id}/commissions`)).commissions
    expect(commissions).toEqual([expect.objectContaining({ id: paid.attribution.touches![0]!.commissionId, amount: '49.80' })])
  })

  it('server: identify and trackEvent, as OpenPartner’s README uses them', async () => {
    const { partner, link } = await referral()
    const cref = await click(link.linkKey)
    const userId = `server-user-${dialect}`
    expect(await op.identify({ cref, userId, ts: Date.now() })).toMatchObject({ ok: true, firstStitch: true, backfilledAttributions: 0 })
    // The same again is no new stitch.
    expect(await op.identify({ cref, userId })).toMatchObject({ ok: true, identityId: null, firstStitch: false })

    const signup = await op.trackEvent({ userId, type: 'signup' })
    expect(signup).toMatchObject({ ok: true, eventId: expect.stringMatching(/^evt_/), attribution: { status: 'attributed' } })
    // OpenPartner's README: value as a number, metadata, ts as ISO 8601; the currency is the program's.
    const paid = await op.trackEvent({
      userId,
      type: 'invoice_paid',
      value: 249,
      metadata: { stripeInvoiceId: 'in_1' },
      ts: new Date(Date.now() - 1000).toISOString(),
    })
    expect(paid.attribution.status).toBe('attributed')
    expect(paid.attribution.touches).toEqual([
      expect.objectContaining({ clickId: cref, partnerId: partner.id, weight: 1, commissionId: expect.stringMatching(/^com_/) }),
    ])
    const unknown = await op.trackEvent({ userId: `nobody-${dialect}`, type: 'invoice_paid', value: 10, currency: 'USD' })
    expect(unknown.attribution.status).toBe('no_identity')
  })

  it('server: partnerd’s refusals reach the SDK as OpenPartnerError with status and code', async () => {
    const refused = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (err: unknown) => err,
      )
    expect(await refused(op.identify({ cref: 'clk_01HZZZZZZZZZZZZZZZZZZZZZZZ', userId: 'x' }))).toMatchObject({
      name: 'OpenPartnerError',
      status: 404,
      code: 'click_not_found',
    })
    const overPrecise = await refused(op.trackEvent({ userId: 'u', type: 'invoice_paid', value: 19.999, currency: 'USD' }))
    expect(overPrecise).toBeInstanceOf(OpenPartnerError)
    expect(overPrecise).toMatchObject({ status: 400, code: 'invalid_amount', detail: 'value: USD has 2 decimal places (got 19.999)' })
    const stranger = new OpenPartnerServer({ apiUrl: `${server.url}/api`, apiKey: 'op_live_not_a_key_at_all_0123456789' })
    expect(await refused(stranger.trackEvent({ userId: 'u', type: 'signup' }))).toMatchObject({ status: 401 })
  })
})

describe.each(DIALECTS)('OpenPartner’s server SDK at /api/t/<slug> on %s', (dialect) => {
  const adminKey = randomBytes(32).toString('hex')
  let server: TestServer

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      mode: 'multi',
      auth: { admin_api_keys: adminKey },
      tracking: { velocity_per_minute: 1000, max_per_minute: 2000 },
    })
    await createTenant(server.runtime.database.db, server.runtime.bus, server.runtime.secrets, { slug: 'acme' })
  })
  afterAll(() => server.stop())

  it('identifies and tracks in the tenant its base URL names', async () => {
    const post = async (path: string, body: unknown) => (await server.call('POST', `/api/t/acme${path}`, { key: adminKey, body })).json()
    const program = await post('/programs', {
      name: 'Acme',
      commissionRule: [{ trigger: 'every', eventType: 'invoice_paid', type: 'percent', value: 10, recurring: true }],
      destinationUrl: 'https://acme.example.com/',
    })
    const partner = await post('/partners', { email: 'acme@partners.example' })
    const link = await post(`/partners/${partner.id}/links`, { linkKey: 'acme-sdk', programId: program.id })
    const res = await fetch(`${server.url}/r/acme/${link.linkKey}`, { redirect: 'manual', headers: { 'user-agent': VISITOR } })
    const cref = new URL(res.headers.get('location')!).searchParams.get('cref')!

    const op = new OpenPartnerServer({ apiUrl: `${server.url}/api/t/acme/`, apiKey: adminKey })
    expect(await op.identify({ cref, userId: 'acme-user' })).toMatchObject({ ok: true, firstStitch: true })
    const paid = await op.trackEvent({ userId: 'acme-user', type: 'invoice_paid', value: 120.5, currency: 'USD' })
    expect(paid.attribution).toMatchObject({ status: 'attributed', touches: [{ clickId: cref, partnerId: partner.id, weight: 1 }] })
    const commissions = await (await server.call('GET', `/api/t/acme/partners/${partner.id}/commissions`, { key: adminKey })).json()
    expect(commissions.commissions).toEqual([expect.objectContaining({ amount: '12.05', currency: 'USD' })])
    // Without the slug, a multi-tenant server says so, and the SDK reads it.
    const lost = new OpenPartnerServer({ apiUrl: `${server.url}/api`, apiKey: adminKey })
    await expect(lost.trackEvent({ userId: 'acme-user', type: 'signup' })).rejects.toMatchObject({
      status: 400,
      code: 'tenant_slug_missing',
    })
  })
})
