/**
 * Sign-in with OpenID Connect, end to end: Chromium walks the redirects between partnerd and a real
 * OIDC provider (oidc-provider) on loopback; then the attacks and the linking rules.
 */
import type { Browser, BrowserContext } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findTenantBySlug } from '../src/tenants/service.ts'
import { addMembership, createUser } from '../src/users/service.ts'
import { launchChromium } from './support/browser.ts'
import { DIALECTS } from './support/databases.ts'
import { type FakeGitHub, startFakeGitHub } from './support/github.ts'
import { type OidcHarness, startOidcProvider } from './support/oidc.ts'
import { freePort } from './support/ports.ts'
import { walkRedirects } from './support/redirects.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe.each(DIALECTS)('OpenID Connect sign-in on %s', (dialect) => {
  let server: TestServer
  let idp: OidcHarness
  let browser: Browser
  const ids: Record<string, string> = {}

  beforeAll(async () => {
    const [port, idpPort] = [await freePort(), await freePort()]
    const publicUrl = `http://127.0.0.1:${port}`
    idp = await startOidcProvider(idpPort, `${publicUrl}/api/auth/oauth/corp/callback`, {
      alice: { email: 'alice@example.com', email_verified: true },
      mallory: { email: 'bob@example.com', email_verified: false }, // claims bob's address, unverified
      carol: { email: 'carol@example.com', email_verified: true },
      dave: { email: 'dave-at-idp@example.com', email_verified: false },
    })
    server = await startTestServer(dialect, {
      server: { host: '127.0.0.1', port, public_url: publicUrl },
      plugins: [
        {
          builtin: 'oauth',
          config: {
            after_sign_in_url: '/api/auth/session',
            providers: { corp: { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret } },
          },
        },
      ],
    })
    const { db } = server.runtime.database
    const tenant = (await findTenantBySlug(db, 'default'))!
    for (const [email, verified, password] of [
      ['alice@example.com', true, undefined],
      ['bob@example.com', true, undefined],
      ['carol@example.com', false, undefined],
      ['dave@example.com', true, 'dave password 123'],
    ] as const) {
      const user = await createUser(db, { email, emailVerified: verified, password })
      await server.runtime.withTenant(tenant.id, (s) => addMembership(s, user.id, 'member'))
      ids[email] = user.id
    }
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await idp?.close()
  })

  /** Walks the flow in a fresh browser; resolves with the final page's JSON and the context. */
  async function signInWith(account: string, context?: BrowserContext, path = '/api/auth/oauth/corp') {
    idp.signInAs(account)
    const ctx = context ?? (await browser.newContext())
    const page = await ctx.newPage()
    const response = await page.goto(`${server.url}${path}`)
    const body = await page.locator('body').textContent()
    await page.close()
    return { status: response!.status(), json: JSON.parse(body ?? '{}'), context: ctx }
  }

  /**
   * Walks the flow with the context's own HTTP client (its cookie jar, redirects one at a time) and stops
   * where the provider sends the browser back; resolves with that callback URL, not yet visited.
   */
  async function callbackUrl(account: string, context: BrowserContext): Promise<URL> {
    idp.signInAs(account)
    let next = `${server.url}/api/auth/oauth/corp`
    for (let hop = 0; hop < 10; hop++) {
      const res = await context.request.get(next, { maxRedirects: 0 })
      const location = res.headers().location
      if (!location) throw new Error(`the flow stopped at ${next} with ${res.status()}`)
      next = new URL(location, next).toString()
      if (next.startsWith(`${server.url}/api/auth/oauth/corp/callback`)) return new URL(next)
    }
    throw new Error('the flow never reached the callback')
  }

  it('signs in through the provider with state, PKCE and nonce, linking a verified email to a verified account', async () => {
    const { status, json, context } = await signInWith('alice')
    expect(status).toBe(200)
    expect(json).toMatchObject({ user: { email: 'alice@example.com' }, organization: { role: 'member' } })
    const session = (await context.cookies()).find((c) => c.name === 'op_session')
    expect(session).toMatchObject({ httpOnly: true })
    expect((await context.cookies()).filter((c) => c.name.startsWith('op_oauth_') && c.value)).toEqual([]) // flow cookies spent
    const identities = await (await context.request.get(`${server.url}/api/auth/identities`)).json()
    expect(identities.identities).toEqual([expect.objectContaining({ provider: 'corp', email: 'alice@example.com' })])
    await context.close()
    expect((await signInWith('alice')).json).toMatchObject({ user: { email: 'alice@example.com' } }) // by (provider, subject) now
  })

  it('never links by an unverified email, on either side', async () => {
    const claimsBob = await signInWith('mallory') // the provider does not vouch for bob@example.com
    expect(claimsBob.status).toBe(403)
    expect(claimsBob.json).toMatchObject({ error: 'account_not_linked' })
    const unverifiedLocal = await signInWith('carol') // carol's own account never proved its email
    expect(unverifiedLocal.status).toBe(403)
    await claimsBob.context.close()
    await unverifiedLocal.context.close()
  })

  it('refuses a tampered state, a replayed callback and a replayed code', async () => {
    const context = await browser.newContext()
    const first = await callbackUrl('alice', context)
    const tampered = new URL(first)
    tampered.searchParams.set('state', 'forged-state')
    const forged = await context.request.get(tampered.toString(), { maxRedirects: 0 })
    expect(forged.status()).toBe(400)
    expect(await forged.json()).toMatchObject({ error: 'invalid_state' })

    const second = await callbackUrl('alice', context)
    expect((await context.request.get(second.toString(), { maxRedirects: 0 })).status()).toBe(302)
    const replay = await context.request.get(second.toString(), { maxRedirects: 0 })
    expect(replay.status()).toBe(400) // the flow's cookies were spent with it

    const third = await callbackUrl('alice', context)
    const oldCode = new URL(third)
    oldCode.searchParams.set('code', second.searchParams.get('code')!)
    const reused = await context.request.get(oldCode.toString(), { maxRedirects: 0 })
    expect(reused.status()).toBe(400)
    expect(await reused.json()).toMatchObject({ error: 'oauth_failed' })
    await context.close()
  })

  it('links explicitly while signed in, and refuses to unlink the last way in', async () => {
    const context = await browser.newContext()
    const signedIn = await context.request.post(`${server.url}/api/auth/sign-in/email`, {
      data: { email: 'dave@example.com', password: 'dave password 123' },
    })
    expect(signedIn.status()).toBe(200)
    const linked = await signInWith('dave', context, '/api/auth/oauth/corp?link=1') // unverified at the provider: linking is explicit
    expect(linked.json).toMatchObject({ user: { id: ids['dave@example.com'] } })
    expect((await context.request.post(`${server.url}/api/auth/identities/corp/unlink`)).status()).toBe(204) // dave has a password
    await context.close()

    const alice = await signInWith('alice')
    const last = await alice.context.request.post(`${server.url}/api/auth/identities/corp/unlink`)
    expect(last.status()).toBe(409)
    expect(await last.json()).toMatchObject({ error: 'last_sign_in_method' })
    await alice.context.close()
  })

  it('answers an unknown provider 404 and a link request without a session 401', async () => {
    expect((await server.call('GET', '/api/auth/oauth/nope')).status).toBe(404)
    expect((await server.call('GET', '/api/auth/oauth/corp?link=1')).status).toBe(401)
  })
})

describe.each(DIALECTS)('GitHub sign-in on %s', (dialect) => {
  let server: TestServer
  let github: FakeGitHub
  beforeAll(async () => {
    github = startFakeGitHub('gh-client', 'gh-secret')
    const port = await freePort()
    server = await startTestServer(dialect, {
      server: { host: '127.0.0.1', port, public_url: `http://127.0.0.1:${port}` },
      plugins: [
        {
          builtin: 'oauth',
          config: { providers: { github: { client_id: 'gh-client', client_secret: 'gh-secret', enterprise_url: github.url } } },
        },
      ],
    })
    const { db } = server.runtime.database
    const tenant = (await findTenantBySlug(db, 'default'))!
    const user = await createUser(db, { email: 'octo@example.com', emailVerified: true })
    await server.runtime.withTenant(tenant.id, (s) => addMembership(s, user.id, 'viewer'))
  })
  afterAll(async () => {
    await server?.stop()
    github?.stop()
  })

  const signIn = () => walkRedirects(`${server.url}/api/auth/oauth/github`, (next) => next === `${server.url}/`)

  it('signs in by the primary verified email, then by the GitHub account id', async () => {
    github.signInAs({ id: 583231, emails: [{ email: 'Octo@Example.com', primary: true, verified: true }] })
    const first = await signIn()
    const session = first.cookie(server.url, 'op_session')
    expect(session, `answer ${first.last.status}`).toBeTruthy()
    const me = await (await server.call('GET', '/api/auth/session', { headers: { cookie: `op_session=${session}` } })).json()
    expect(me).toMatchObject({ user: { email: 'octo@example.com' }, organization: { role: 'viewer' } })
    github.signInAs({ id: 583231, emails: [{ email: 'renamed@example.com', primary: true, verified: true }] })
    expect((await signIn()).cookie(server.url, 'op_session')).toBeTruthy() // linked by id now, whatever the email
  })

  it('does not link by an unverified primary email', async () => {
    github.signInAs({ id: 42, emails: [{ email: 'octo@example.com', primary: true, verified: false }] })
    const walk = await signIn()
    expect(walk.last.status).toBe(403)
    expect(await walk.last.json()).toMatchObject({ error: 'account_not_linked' })
  })
})
