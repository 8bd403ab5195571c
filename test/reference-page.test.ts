/**
 * The API reference page in a real browser (Debian's Chromium through playwright-core): it lists every
 * operation of the OpenAPI document with its auth, renders without scripts, and fetches nothing from
 * outside the server, so it works on an air-gapped install.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium } from './support/browser.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe('GET /api/reference in Chromium', () => {
  let server: TestServer
  let browser: Browser
  beforeAll(async () => {
    server = await startTestServer('sqlite')
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.stop()
  })

  it('shows every operation with its auth, loads nothing from elsewhere, and links the document', async () => {
    const page = await browser.newPage()
    const requested: string[] = []
    const consoleErrors: string[] = []
    page.on('request', (r) => void requested.push(r.url()))
    page.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(m.text())))

    const response = await page.goto(`${server.url}/api/reference`)
    expect(response?.status()).toBe(200)
    expect(await page.title()).toContain('partnerd')

    const doc = await (await server.call('GET', '/api/openapi.json')).json()
    const operations = Object.values(doc.paths as Record<string, object>).flatMap((item) =>
      Object.keys(item).filter((m) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)),
    )
    expect(await page.locator('section.op').count()).toBe(operations.length)

    const mint = page.locator('section.op', { has: page.locator('h3', { hasText: /POST\s+\/api\/api-keys$/ }) })
    await expect(mint.locator('.auth').innerText()).resolves.toMatch(/Requires an admin credential/)
    const listPartners = page.locator('section.op', { has: page.locator('h3', { hasText: /GET\s+\/api\/partners$/ }) })
    await expect(listPartners.locator('.auth').innerText()).resolves.toMatch(
      /Requires an API key .* or a session cookie with scope partners:read/,
    )
    const myLinks = page.locator('section.op', { has: page.locator('h3', { hasText: /GET\s+\/api\/me\/links$/ }) })
    await expect(myLinks.locator('.auth').innerText()).resolves.toMatch(/A partner only/)
    // Nested fields read as dotted rows of one table.
    const createProgram = page.locator('section.op', { has: page.locator('h3', { hasText: /POST\s+\/api\/programs$/ }) })
    await expect(createProgram.innerText()).resolves.toContain('rules[].recurring.months')
    await expect(mint.innerText()).resolves.toContain('Request body')
    const health = page.locator('section.op', { has: page.locator('h3', { hasText: /GET\s+\/health$/ }) })
    await expect(health.locator('.auth').innerText()).resolves.toContain('Public')

    await page.screenshot({ path: '.test-data/reference-page.png', fullPage: true })
    expect(
      requested.every((url) => url.startsWith(server.url)),
      requested.join('\n'),
    ).toBe(true)
    expect(consoleErrors, consoleErrors.join('\n')).toEqual([])

    await page.click('nav a[href="/api/openapi.json"]')
    const linked = JSON.parse(await page.locator('body').innerText())
    expect(linked.openapi).toMatch(/^3\./)
    await page.close()
  })
})
