/**
 * A whole program cycle in Debian's Chromium, as a new owner runs it from the compiled binary: on
 * SQLite (single mode) and on PostgreSQL (multi mode). The setup link the binary prints; the owner
 * signs in, creates a program, adds and invites a partner, makes a link; a visitor clicks through
 * /r/… and the company's server reports a sale; the commission is approved from the queue; payouts
 * are previewed, made, downloaded as CSV and marked paid; a webhook endpoint gets its test delivery;
 * a key is minted and shown once; a viewer, invited, finds no action and is refused a forged POST;
 * a POST without the CSRF token is refused. axe checks every page; each is saved as a screenshot
 * under .test-data/screenshots/<database>/.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { AxeBuilder } from '@axe-core/playwright'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { run, serve, stopAll, writeConfig } from './support/binary.ts'
import { launchChromium } from './support/browser.ts'
import { databaseSection, secretsSection } from './support/databases.ts'
import { freePort } from './support/ports.ts'
import { startReceiver } from './support/receiver.ts'
import { type Inbox, startInbox } from './support/smtp.ts'

const PASSWORD = 'a long passphrase for the owner'
const SHOTS = join(process.cwd(), '.test-data', 'screenshots')

let browser: Browser
let inbox: Inbox
const receiver = startReceiver()

beforeAll(async () => {
  browser = await launchChromium()
  inbox = await startInbox()
})
afterAll(async () => {
  await browser?.close()
  await inbox?.close()
  receiver.stop()
  await stopAll()
})

interface Scenario {
  name: 'sqlite' | 'postgres'
  /** Starts the binary; answers its URL, the setup link, the pages' root (`` or `/t/<slug>`), and an admin key. */
  start(): Promise<{ url: string; setupLink: string; root: string; adminKey: string }>
}

async function baseConfig(name: Scenario['name'], port: number, extra: Record<string, unknown>) {
  return {
    server: { host: '127.0.0.1', port, public_url: `http://127.0.0.1:${port}` },
    // info: the helper waits for the "partnerd listening" line.
    logging: { level: 'info' },
    webhooks: { allow_hosts: ['127.0.0.1'], poll_interval_ms: 50 },
    mail: { transport: 'smtp', smtp_url: inbox.url, from: 'partnerd <no-reply@example.com>' },
    plugins: [{ builtin: 'magic' }, { builtin: 'xauth' }],
    database: await databaseSection(name),
    secrets: secretsSection(name),
    ...extra,
  }
}

const SCENARIOS: Scenario[] = [
  {
    name: 'sqlite',
    async start() {
      const port = await freePort()
      const served = await serve(writeConfig(await baseConfig('sqlite', port, {})))
      return { url: served.url, setupLink: await served.setupLink(), root: '', adminKey: await served.bootstrapKey() }
    },
  },
  {
    name: 'postgres',
    async start() {
      const port = await freePort()
      const adminKey = randomBytes(32).toString('base64url')
      const config = writeConfig(await baseConfig('postgres', port, { mode: 'multi', auth: { admin_api_keys: adminKey } }))
      // Multi mode: the operator makes the tenant, and its setup link comes with it.
      const made = run(['tenant', 'create', 'acme', '--name', 'Acme Inc', '--json', '--config', config], { ADMIN_API_KEY: adminKey })
      expect(made.code, made.stderr).toBe(0)
      const served = await serve(config, { ADMIN_API_KEY: adminKey })
      return { url: served.url, setupLink: JSON.parse(made.stdout).setupLink, root: '/t/acme', adminKey }
    },
  },
]

describe.each(SCENARIOS)('the console in Chromium on $name', (scenario) => {
  let url: string
  let root: string
  let adminKey: string
  let setupLink: string
  let context: BrowserContext
  let page: Page
  const problems: string[] = []
  const accessibility: string[] = []
  let shot = 0
  const dir = join(SHOTS, scenario.name)

  /** Waits for the page to settle, checks it with axe (no serious or critical violation), and saves it. */
  let axeRunning = false
  async function check(p: Page, name: string) {
    await p.waitForLoadState('networkidle')
    // axe's own probes (inline styles the CSP refuses) are not the page's problems.
    axeRunning = true
    const results = await new AxeBuilder({ page: p }).analyze().finally(() => {
      axeRunning = false
    })
    for (const v of results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')) {
      accessibility.push(`${name}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
    }
    // caret: 'initial': hiding the caret leaves an empty style attribute on each field, which htmx copies
    // onto the next page's fields of the same id, and the CSP (rightly) refuses.
    await p.screenshot({ path: join(dir, `${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true, caret: 'initial' })
  }
  const flash = () => page.locator('#flash').textContent()
  const api = (path: string, body: unknown) =>
    fetch(`${url}/api${root ? `/t/${root.slice(3)}` : ''}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  /** Script errors and CSP refusals of the pages themselves (not axe's, nor the refusals the test asks for). */
  const expectedRefusals = new Set<string>()
  const watch = (p: Page) => {
    p.on('console', (m) => {
      if (axeRunning || (m.type() !== 'error' && m.type() !== 'warning')) return
      if (m.text().includes('status of 403') && [...expectedRefusals].some((u) => m.location().url.endsWith(u))) return
      problems.push(`console ${m.type()}: ${m.text()} at ${m.location().url}, on ${p.url()}`)
    })
    p.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  }
  const nav = (label: string) => page.locator('#site-nav').getByRole('link', { name: label, exact: true }).click()

  beforeAll(async () => {
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    ;({ url, setupLink, root, adminKey } = await scenario.start())
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
    page = await context.newPage()
    watch(page)
  })
  afterAll(() => context?.close())

  // A long walk through the browser, slower still when the rest of the suite runs beside it.
  it('takes a new owner from the setup link through a whole program cycle', { timeout: 180_000 }, async () => {
    await page.goto(setupLink)
    await check(page, 'setup')
    await page.getByLabel('Your name').fill('Olga Owner')
    await page.getByLabel('Email').fill('olga@example.com')
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD)
    await page.getByLabel('Password again').fill(PASSWORD)
    await page.getByRole('button', { name: 'Create my account' }).click()
    await page.waitForURL(`**${root}/admin`)
    await expect.poll(flash).toContain('Welcome')
    await check(page, 'overview-empty')

    // A program that pays 20% of each sale, with no holdback so its commissions can be approved today.
    await page.getByRole('link', { name: 'Create your first program' }).click()
    await page.getByLabel('Name').fill('Launch')
    await page.getByLabel('Start as').selectOption('active')
    await page.getByLabel('Destination').fill('https://shop.example.com/')
    await page.getByLabel('Holdback (days)').fill('0')
    await check(page, 'program-new')
    await page.getByRole('button', { name: 'Create program' }).click()
    await page.waitForURL(/\/programs\/prg_/)
    await expect.poll(flash).toContain('Program “Launch” created')
    expect(await page.locator('#snippet').textContent()).toContain('/sdk.js')
    await check(page, 'program')

    // Webhooks first, so that the rest of the cycle is told to the receiver.
    await nav('Webhooks')
    await check(page, 'webhooks-empty')
    await page.getByRole('link', { name: 'Add an endpoint' }).click()
    await page.getByLabel('URL').fill(receiver.url)
    await page.getByLabel('Every event').check()
    await page.getByRole('button', { name: 'Add the endpoint' }).click()
    const secret = await page.getByLabel('Signing secret').inputValue()
    expect(secret).toMatch(/^whsec_/)
    await check(page, 'webhook-secret-once')
    await page.getByRole('link', { name: 'Go to the endpoint' }).click()
    await page.waitForURL(/\/webhooks\/whk_/)
    expect(await page.content()).not.toContain(secret)
    await page.getByRole('button', { name: 'Send a test event' }).click()
    await expect.poll(() => receiver.received.some((r) => r.body.includes('"webhook.test"')), { timeout: 10_000 }).toBe(true)
    await expect
      .poll(
        async () => {
          await page.reload()
          return (await page.locator('#results').textContent()) ?? ''
        },
        { timeout: 10_000, interval: 250 },
      )
      .toContain('Delivered')
    await check(page, 'webhook-deliveries')

    // A partner, invited to the portal by mail, and its link.
    await nav('Partners')
    await check(page, 'partners-empty')
    await page.getByRole('link', { name: 'Add your first partner' }).click()
    await page.getByLabel('Email').fill('ada@partners.example')
    await page.getByLabel('Name').fill('Ada')
    await page.getByLabel('Invite them to the partner portal now').check()
    await page.getByRole('button', { name: 'Add partner' }).click()
    await expect.poll(flash).toContain('Ada added and invited to the portal')
    expect((await inbox.next('ada@partners.example')).text).toContain('/auth/magic/link#')
    await page.getByRole('link', { name: 'New link' }).click()
    await page.getByLabel('Key').fill('ada')
    await page.getByRole('button', { name: 'Make the link' }).click()
    await expect.poll(flash).toContain(`/r/${root ? 'acme/' : ''}ada`)
    await check(page, 'links')

    // A visitor follows the link; the company's site names them, its server reports a sale.
    const click = await fetch(`${url}/r/${root ? 'acme/' : ''}ada`, {
      redirect: 'manual',
      headers: { 'user-agent': 'Mozilla/5.0 Firefox/140.0' },
    })
    expect(click.status).toBe(302)
    const cref = new URL(click.headers.get('location')!).searchParams.get('cref')
    expect((await api('/attribution/identify', { cref, userId: 'customer-1' })).status).toBe(200)
    expect(
      (await api('/attribution/events', { userId: 'customer-1', type: 'sale', value: '250.00', currency: 'USD', externalEventId: 'inv-1' }))
        .status,
    ).toBe(200)

    await nav('Partners')
    await expect.poll(async () => (await page.locator('#results').textContent()) ?? '').toContain('$250.00')
    await check(page, 'partners')
    await page.getByRole('link', { name: 'Ada' }).first().click()
    await check(page, 'partner')

    // The commission in the queue, approved through its confirmation.
    await nav('Commissions')
    expect(await page.locator('#results').textContent()).toContain('$50.00')
    await check(page, 'commissions')
    await page.getByRole('link', { name: 'Approve…' }).click()
    expect(await page.getByRole('heading', { level: 2 }).first().textContent()).toContain('Approve 1 commission of $50.00?')
    await check(page, 'commission-approve-confirm')
    await page.getByRole('button', { name: 'Approve 1' }).click()
    await expect.poll(flash).toContain('Approved 1 commission')

    // Payouts: the preview, the run, the CSV, marked paid.
    await nav('Payouts')
    await page.getByRole('link', { name: 'Run payouts' }).first().click()
    await check(page, 'payout-run')
    await page.getByRole('button', { name: 'Preview the run' }).click()
    expect(await page.getByRole('heading', { level: 2 }).first().textContent()).toContain('Pay 1 partner $50.00?')
    await check(page, 'payout-preview')
    await page.getByRole('button', { name: 'Make these payouts' }).click()
    await expect.poll(flash).toContain('1 payout made')
    await check(page, 'payouts-pending')
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'generic CSV' }).click()])
    const csv = readFileSync((await download.path())!, 'utf8')
    expect(csv).toContain('ada@partners.example')
    expect(csv).toContain('50.00')
    await page.getByRole('checkbox', { name: /^Select pay_/ }).check()
    await page.getByRole('button', { name: 'Mark paid…' }).click()
    await page.getByLabel('Reference (optional)').fill('BANK-2026-12-04')
    await check(page, 'payout-mark-paid-confirm')
    await page.getByRole('button', { name: 'Mark paid' }).click()
    await expect.poll(flash).toContain('1 payout marked paid')
    expect(await page.locator('#results').textContent()).toContain('BANK-2026-12-04')
    await check(page, 'payouts-paid')
    await expect.poll(() => receiver.received.some((r) => r.body.includes('"payout.paid"')), { timeout: 10_000 }).toBe(true)

    // A key, shown once, that works.
    await nav('API keys')
    await page.getByRole('link', { name: 'New key' }).click()
    await page.getByLabel('Name').fill('CRM sync')
    await page.getByRole('checkbox', { name: /^events:write/ }).check()
    await check(page, 'key-new')
    await page.getByRole('button', { name: 'Mint the key' }).click()
    const key = await page.getByLabel('CRM sync').inputValue()
    await check(page, 'key-shown-once')
    const tenantApi = `${url}/api${root ? `/t/${root.slice(3)}` : ''}`
    expect((await fetch(`${tenantApi}/tenant`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200)
    await page.getByRole('link', { name: 'Done' }).click()
    await page.waitForURL(/\/keys$/)
    expect(await page.content()).not.toContain(key)
    await check(page, 'keys')

    // An X-Auth pair for a customer integration, beside the keys: shown once, and it works.
    await page.getByRole('link', { name: 'X-Auth pairs' }).click()
    await page.getByRole('link', { name: 'New X-Auth pair' }).click()
    await page.getByLabel('Name').fill('ERP sync')
    await page.getByRole('checkbox', { name: /^links:read/ }).check()
    await check(page, 'xauth-new')
    await page.getByRole('button', { name: 'Issue it' }).click()
    const authId = await page.getByLabel('X-Auth-ID').inputValue()
    const authToken = await page.getByLabel('X-Auth-Token').inputValue()
    await check(page, 'xauth-shown-once')
    expect((await fetch(`${tenantApi}/links`, { headers: { 'x-auth-id': authId, 'x-auth-token': authToken } })).status).toBe(200)
    await page.getByRole('link', { name: 'Done' }).click()
    await check(page, 'xauth')

    await nav('Settings')
    await check(page, 'settings')
    await nav('Overview')
    expect(await page.locator('.kpis').textContent()).toContain('$250.00')
    await check(page, 'overview')
    await page.goto(`${url}${root}/admin/account`)
    await check(page, 'account')

    // The same CSRF token the forms carry is required: a POST without it is refused, and changes nothing.
    expectedRefusals.add(`${root}/admin/settings/name`)
    const status = await page.evaluate(async (path) => {
      const res = await fetch(path, { method: 'POST', body: new URLSearchParams({ name: 'Taken over' }) })
      return res.status
    }, `${root}/admin/settings/name`)
    expect(status).toBe(403)

    // On a phone, and in the dark.
    await page.setViewportSize({ width: 375, height: 800 })
    await page.goto(`${url}${root}/admin/commissions`)
    await page.getByRole('button', { name: 'Menu' }).click()
    await expect.poll(() => page.locator('#site-nav').isVisible()).toBe(true)
    await check(page, 'commissions-375px')
    await page.setViewportSize({ width: 1280, height: 900 })
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.goto(`${url}${root}/admin`)
    await check(page, 'overview-dark')
    await page.emulateMedia({ colorScheme: 'light' })
  })

  it('gives an invited viewer every page and no action, and refuses its forged POST', { timeout: 120_000 }, async () => {
    await page.goto(`${url}${root}/admin/team`)
    await page.getByRole('link', { name: 'Invite someone' }).click()
    await page.getByLabel('Email').fill('vera@example.com')
    await page.getByLabel('Role').selectOption('viewer')
    await page.getByRole('button', { name: 'Invite' }).click()
    const link = await page.getByLabel('Invitation link').inputValue()
    expect((await inbox.next('vera@example.com')).text).toContain(link)
    await check(page, 'team-invited')

    const viewer = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const v = await viewer.newPage()
    watch(v)
    try {
      await v.goto(link)
      await v.getByLabel('Password', { exact: true }).fill(PASSWORD)
      await v.getByLabel('Password again').fill(PASSWORD)
      await v.getByRole('button', { name: 'Choose my password' }).click()
      await v.waitForURL(`**${root}/admin`)
      for (const area of ['', '/programs', '/partners', '/links', '/commissions', '/payouts', '/webhooks', '/keys', '/team', '/settings']) {
        await v.goto(`${url}${root}/admin${area}`)
        expect(v.url()).toContain(`/admin${area}`)
        // Only the person's own forms (sign out); no action.
        const forms = await v.locator('form[method="post"]').evaluateAll((fs) => fs.map((f) => f.getAttribute('action')))
        expect(
          forms.filter((a) => !a?.endsWith('/sign-out')),
          area,
        ).toEqual([])
      }
      await v.goto(`${url}${root}/admin/programs`)
      await check(v, 'viewer-programs')
      // The viewer's own session and token, on an action its role does not allow.
      expectedRefusals.add(`${root}/admin/programs/new`)
      const forged = await v.evaluate(async (path) => {
        const token = document.querySelector<HTMLInputElement>('input[name="_csrf"]')!.value
        const res = await fetch(path, {
          method: 'POST',
          body: new URLSearchParams({ _csrf: token, name: 'Forged', currency: 'USD', destinationUrl: 'https://x.example/' }),
        })
        return res.status
      }, `${root}/admin/programs/new`)
      expect(forged).toBe(403)
    } finally {
      await viewer.close()
    }
  })

  it('found no serious or critical accessibility problem, and no script error', () => {
    expect(accessibility).toEqual([])
    expect(problems).toEqual([])
  })
})
