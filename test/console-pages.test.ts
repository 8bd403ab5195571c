/**
 * The console over HTTP, for every page and every role, on both databases. The expectations come from
 * the route declarations (each console route's scopes, against each role's), not from a list kept by
 * hand: a page a role may open answers it, one it may not is a 403, a POST it may not make changes
 * nothing, and no page shows a role a link or a form it would be refused. Then CSRF, sign-in and its
 * redirects, the one-time links, the security headers and the assets.
 */
import { createHash } from 'node:crypto'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ROLE_SCOPES, type Role } from '../src/auth/roles.ts'
import { hasScopes } from '../src/auth/scopes.ts'
import { findTenantBySlug, type Tenant } from '../src/tenants/service.ts'
import { issueSetupToken } from '../src/users/account-links.ts'
import { addMembership, createUser } from '../src/users/service.ts'
import { adminRoutes } from '../src/web/admin/index.tsx'
import type { ConsoleRoute } from '../src/web/routes.tsx'
import { form, get, type Session, signIn } from './support/console.ts'
import { DIALECTS } from './support/databases.ts'
import { startReceiver } from './support/receiver.ts'
import { startTestServer, type TestServer } from './support/server.ts'
import { startInbox } from './support/smtp.ts'

const PASSWORD = 'console password 123'
const ROLES = ['owner', 'admin', 'member', 'viewer', 'partner'] as const satisfies readonly Role[]
const ROUTES = adminRoutes()
const receiver = startReceiver()

/** May this role use this route, by the declarations? A partner uses no console route. */
const allowed = (role: Role, route: ConsoleRoute) => role !== 'partner' && hasScopes(ROLE_SCOPES[role], route.scopes ?? []).length === 0

describe.each(DIALECTS)('the console on %s', (dialect) => {
  let server: TestServer
  let tenant: Tenant
  const sessions = {} as Record<Role, Session>
  const ids: Record<string, string> = {}

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await server.call(method, `/api${path}`, { key: server.adminKey, body })
    const data = res.status === 204 ? {} : await res.json()
    expect(res.status, `${method} ${path}: ${JSON.stringify(data)}`).toBeLessThan(300)
    return data
  }
  /** What a refused request must leave as it was. */
  const snapshot = () =>
    server.runtime.withTenant(tenant.id, async ({ db }) => ({
      programs: await db.selectFrom('programs').select(['id', 'name', 'status', 'updated_at']).orderBy('id').execute(),
      partners: await db.selectFrom('partners').select(['id', 'status', 'updated_at']).orderBy('id').execute(),
      links: await db.selectFrom('links').select(['id', 'archived_at']).orderBy('id').execute(),
      commissions: await db.selectFrom('commissions').select(['id', 'status']).orderBy('id').execute(),
      payouts: await db.selectFrom('payouts').select(['id', 'status']).orderBy('id').execute(),
      endpoints: await db.selectFrom('webhook_endpoints').select(['id', 'active', 'secret', 'updated_at']).orderBy('id').execute(),
      keys: await db.selectFrom('api_keys').select(['id', 'revoked_at']).orderBy('id').execute(),
      // The plugin's own table, outside the core's row types.
      pairs: await (db as unknown as Kysely<any>)
        .selectFrom('xauth_credentials')
        .select(['auth_id', 'revoked_at'])
        .orderBy('auth_id')
        .execute(),
      members: await db.selectFrom('memberships').select(['id', 'role']).orderBy('id').execute(),
      deliveries: await db.selectFrom('webhook_deliveries').select(['id', 'status']).orderBy('id').execute(),
    }))

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      server: { host: '127.0.0.1', port: 0, public_url: 'http://127.0.0.1:9' },
      webhooks: { allow_hosts: ['127.0.0.1'] },
      plugins: [{ builtin: 'xauth' }],
    })
    tenant = (await findTenantBySlug(server.runtime.database.db, 'default'))!
    const program = await api('POST', '/programs', {
      name: 'Launch',
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://shop.example.com/',
      holdbackDays: 0,
      rules: [{ on: 'sale', percent: '10' }],
    })
    ids.program = program.id
    const partner = await api('POST', '/partners', { email: 'grace@partners.example', name: 'Grace' })
    ids.partner = partner.id
    const link = await api('POST', '/links', { partnerId: partner.id, programId: program.id, key: 'grace' })
    ids.link = link.id
    const click = await fetch(`${server.url}/r/grace`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 Firefox/140.0' } })
    await api('POST', '/attribution/identify', { cref: new URL(click.headers.get('location')!).searchParams.get('cref'), userId: 'c1' })
    const sale = await api('POST', '/attribution/events', {
      userId: 'c1',
      type: 'sale',
      value: '100.00',
      currency: 'USD',
      externalEventId: 's1',
    })
    ids.commission = sale.commissions[0].id
    await api('POST', `/commissions/${ids.commission}/approve`)
    ids.payout = (await api('POST', '/payouts/run', {})).payouts[0].id
    await api('POST', '/attribution/events', { userId: 'c1', type: 'sale', value: '50.00', currency: 'USD', externalEventId: 's2' })
    const endpoint = await api('POST', '/webhooks', { url: `${receiver.url}/hooks`, events: ['payout.paid'] })
    ids.webhook = endpoint.id
    ids.delivery = (await api('POST', `/webhooks/${endpoint.id}/test`)).id
    ids.key = (await api('POST', '/api-keys', { name: 'spare', scopes: ['links:read'] })).id
    ids.xauth = (await api('POST', '/xauth/credentials', { kind: 'customer', name: 'ERP', scopes: ['links:read'] })).authId

    const { db } = server.runtime.database
    for (const role of ROLES) {
      const user = await createUser(db, { email: `${role}@example.com`, password: PASSWORD })
      await server.runtime.withTenant(tenant.id, async (scope) => {
        await addMembership(scope, user.id, role, role === 'partner' ? ids.partner : undefined)
      })
    }
    const spare = await createUser(db, { email: 'spare@example.com', password: PASSWORD })
    await server.runtime.withTenant(tenant.id, (scope) => addMembership(scope, spare.id, 'viewer'))
    ids.member = spare.id
    for (const role of ROLES.filter((r) => r !== 'partner')) sessions[role] = await signIn(server, `${role}@example.com`, PASSWORD)
    // A partner's session, by the API's sign-in (the console's own pages refuse it).
    const partnerIn = await server.call('POST', '/api/auth/sign-in/email', { body: { email: 'partner@example.com', password: PASSWORD } })
    sessions.partner = { cookie: partnerIn.headers.getSetCookie()[0]!.split(';')[0]!, csrf: 'none' }
    ids.session = (await db.selectFrom('sessions').select('id').orderBy('id').executeTakeFirstOrThrow()).id
  })
  afterAll(() => server.stop())

  /** A route's path with its parameters filled by the fixtures of the kind its segment names. */
  function pathOf(route: ConsoleRoute): string {
    const filled = route.path.replace(/:(\w+)/g, (_, name: string, offset: number) => {
      const segment = route.path.slice(0, offset).split('/').filter(Boolean).pop()
      if (name === 'deliveryId') return ids.delivery!
      if (name === 'userId') return ids.member!
      // A plugin's kind of credential (`/credentials/:kind/:id`): the xauth pair.
      if (name === 'kind') return 'xauth'
      if (segment === ':kind') return ids.xauth!
      const kind = {
        programs: 'program',
        partners: 'partner',
        links: 'link',
        payouts: 'payout',
        webhooks: 'webhook',
        keys: 'key',
        sessions: 'session',
      }[segment ?? '']
      return ids[kind ?? ''] ?? 'none_such'
    })
    return `/admin${filled}`
  }

  it('has pages for every part of the console', () => {
    const gets = ROUTES.filter((r) => r.method === 'GET').map((r) => r.path)
    for (const area of [
      '',
      '/programs',
      '/partners',
      '/links',
      '/commissions',
      '/payouts',
      '/webhooks',
      '/keys',
      '/team',
      '/settings',
      '/account',
    ]) {
      expect(gets).toContain(area)
    }
  })

  it('answers each page to the roles that may see it, refuses it to the others, and never fails', async () => {
    const wrong: string[] = []
    for (const route of ROUTES.filter((r) => r.method === 'GET')) {
      const path = pathOf(route)
      for (const role of ROLES) {
        const res = await get(server, path, sessions[role])
        const ok = allowed(role, route) ? res.status !== 401 && res.status !== 403 && res.status < 500 : res.status === 403
        if (!ok) wrong.push(`${role} GET ${path}: ${res.status}`)
        if (res.headers.get('content-type')?.startsWith('text/html')) {
          const csp = res.headers.get('content-security-policy') ?? ''
          if (!csp.includes("script-src 'self'") || csp.includes('unsafe') || !csp.includes("frame-ancestors 'none'"))
            wrong.push(`${path}: CSP ${csp}`)
          if (res.headers.get('x-content-type-options') !== 'nosniff' || !res.headers.get('referrer-policy')) wrong.push(`${path}: headers`)
        }
      }
    }
    expect(wrong).toEqual([])
  })

  it('refuses every action to the roles that may not take it, and changes nothing', async () => {
    const before = await snapshot()
    const wrong: string[] = []
    for (const route of ROUTES.filter((r) => r.method === 'POST')) {
      for (const role of ROLES.filter((r) => !allowed(r, route))) {
        // A forged POST: the role's own session and CSRF token, the fields a real form would send.
        const res = await form(
          server,
          pathOf(route),
          { confirmed: 'yes', action: 'approve', ids: ids.commission!, status: 'archived', role: 'owner', name: 'Forged' },
          sessions[role],
        )
        if (res.status !== 403) wrong.push(`${role} POST ${route.path}: ${res.status}`)
      }
    }
    expect(wrong).toEqual([])
    expect(await snapshot()).toEqual(before)
  })

  it('shows no role a link or a form it would be refused', async () => {
    const patterns = ROUTES.map((route) => ({
      route,
      regex: new RegExp(`^/admin${route.path.replace(/:\w+/g, '[^/]+')}$`),
    }))
    const wrong: string[] = []
    for (const role of ROLES.filter((r) => r !== 'partner')) {
      for (const route of ROUTES.filter((r) => r.method === 'GET' && allowed(role, r))) {
        const res = await get(server, pathOf(route), sessions[role])
        if (res.status !== 200) continue
        const html = await res.text()
        const targets = [
          ...[...html.matchAll(/<a [^>]*href="(\/admin[^"?#]*)/g)].map((m) => ['GET', m[1]!] as const),
          ...[...html.matchAll(/<form [^>]*method="post"[^>]*action="(\/admin[^"?#]*)"/g)].map((m) => ['POST', m[1]!] as const),
        ]
        for (const [method, target] of targets) {
          const match = patterns.find((p) => p.route.method === method && p.regex.test(target))
          if (match && !allowed(role, match.route)) wrong.push(`${role} on ${route.path} sees ${method} ${target}`)
        }
      }
    }
    expect(wrong).toEqual([])
  })

  it('refuses a POST without the session’s CSRF token, or from another site', async () => {
    const before = await snapshot()
    const owner = sessions.owner
    const target = `/admin/programs/${ids.program}/status`
    for (const [csrf, headers] of [
      [null, {}],
      ['not-the-token', {}],
      [createHash('sha256').update('x').digest('base64url'), {}],
      [owner.csrf, { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }],
    ] as const) {
      const res = await form(server, target, { status: 'paused' }, owner, { csrf, headers })
      expect(res.status, `${csrf} ${JSON.stringify(headers)}`).toBe(403)
    }
    expect(await snapshot()).toEqual(before)
    // The same POST with the token works: the refusals above were about the token.
    const ok = await form(server, target, { status: 'paused' }, owner)
    expect(ok.status).toBe(303)
    await form(server, target, { status: 'active' }, owner)
  })

  it('sends someone signed out to sign in, and back to the page afterwards; never to another site', async () => {
    const res = await get(server, `/admin/partners?status=active`)
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe(`/sign-in?next=${encodeURIComponent('/admin/partners?status=active')}`)
    const signedIn = await form(server, '/sign-in', {
      email: 'viewer@example.com',
      password: PASSWORD,
      next: '/admin/partners?status=active',
    })
    expect(signedIn.headers.get('location')).toBe('/admin/partners?status=active')
    for (const next of [
      '//evil.example/x',
      'https://evil.example/',
      '/\\evil.example',
      '\\\\evil.example',
      'javascript:alert(1)',
      '/%0d%0aevil',
      ' //evil.example',
    ]) {
      const res = await form(server, '/sign-in', { email: 'viewer@example.com', password: PASSWORD, next })
      const location = res.headers.get('location')!
      expect(new URL(location, server.url).origin, `${next} → ${location}`).toBe(server.url)
    }
  })

  it('says the same for an unknown email and a wrong password, beside the field, keeping the email', async () => {
    const texts = []
    for (const email of ['nobody@example.com', 'owner@example.com']) {
      const res = await form(server, '/sign-in', { email, password: 'wrong password!!', next: '/admin' })
      expect(res.status).toBe(401)
      const html = await res.text()
      expect(html).toContain(`value="${email}"`)
      expect(html).toMatch(/id="f-password"[^>]*aria-invalid="true"/)
      texts.push(html.replace(email, 'EMAIL').replace(/name="_csrf" value="[^"]*"/, ''))
    }
    expect(texts[0]).toEqual(texts[1])
  })

  it('shows a form’s errors beside its fields and keeps what was typed', async () => {
    const res = await form(
      server,
      '/admin/programs/new',
      {
        name: 'Typed name',
        currency: 'USD',
        status: 'draft',
        destinationUrl: 'ftp://nope',
        'attribution.windowDays': '999',
        holdbackDays: '30',
        'attribution.model': 'last_click',
        'sale.kind': 'percent',
        'sale.value': '20',
        'sale.recurring': 'once',
        'signup.kind': 'none',
      },
      sessions.owner,
    )
    expect(res.status).toBe(400)
    const html = await res.text()
    expect(html).toContain('There is a problem')
    expect(html).toMatch(/id="f-attribution-windowDays"[^>]*aria-invalid="true"/)
    expect(html).toContain('Enter a whole number from 1 to 365')
    expect(html).toContain('value="Typed name"')
    // The service's own rule (a destination must be http or https) shows beside its field too.
    const fixed = await form(
      server,
      '/admin/programs/new',
      {
        name: 'Typed name',
        currency: 'USD',
        status: 'draft',
        destinationUrl: 'ftp://nope',
        'attribution.windowDays': '60',
        holdbackDays: '30',
        'attribution.model': 'last_click',
        'sale.kind': 'percent',
        'sale.value': '20',
        'sale.recurring': 'once',
        'signup.kind': 'none',
      },
      sessions.owner,
    )
    const again = await fixed.text()
    expect(fixed.status).toBe(400)
    expect(again).toMatch(/id="f-destinationUrl"[^>]*aria-invalid="true"/)
    expect(again).toContain('value="ftp://nope"')
  })

  it('issues an X-Auth pair from the keys area, shows it once, and revokes it', async () => {
    const owner = sessions.owner
    const list = await (await get(server, '/admin/credentials/xauth', owner)).text()
    expect(list).toContain('X-Auth pairs')
    expect(list).toContain(ids.xauth)
    expect(await (await get(server, '/admin/keys', sessions.viewer)).text()).toContain('href="/admin/credentials/xauth"')
    // The plugin's rules, beside their fields: an unknown partner email, a customer pair without scopes.
    const unknown = await form(
      server,
      '/admin/credentials/xauth/new',
      { name: 'Report', kind: 'partner', partnerId: 'nobody@x.example' },
      owner,
    )
    expect(unknown.status).toBe(400)
    expect(await unknown.text()).toMatch(/id="f-partnerId"[^>]*aria-invalid="true"/)
    const noScopes = await form(server, '/admin/credentials/xauth/new', { name: 'Sync', kind: 'customer' }, owner)
    const noScopesHtml = await noScopes.text()
    expect(noScopes.status).toBe(400)
    expect(noScopesHtml).toMatch(/id="f-scopes"[^>]*aria-invalid="true"/)
    expect(noScopesHtml).toContain('value="Sync"')
    // A partner pair, named by the partner's email: its secrets once, and it acts as that partner.
    const issued = await form(
      server,
      '/admin/credentials/xauth/new',
      { name: 'Grace reporting', kind: 'partner', partnerId: 'grace@partners.example' },
      owner,
    )
    expect(issued.status).toBe(201)
    const html = await issued.text()
    const authId = /value="((?:PA)_[A-Z0-9]{20})"/.exec(html)?.[1]
    const token = /<h2>X-Auth-Token<\/h2>[\s\S]*?value="([^"]+)"/.exec(html)?.[1]
    expect(authId && token).toBeTruthy()
    const me = await server.call('GET', '/api/me', { headers: { 'x-auth-id': authId!, 'x-auth-token': token! } })
    expect(me.status).toBe(200)
    expect((await me.json()).partner.id).toBe(ids.partner)
    const listed = await (await get(server, '/admin/credentials/xauth', owner)).text()
    expect(listed).toContain(authId)
    expect(listed).not.toContain(token)
    const revoked = await form(server, `/admin/credentials/xauth/${authId}/revoke`, { confirmed: 'yes' }, owner)
    expect(revoked.status).toBe(303)
    const after = await server.call('GET', '/api/me', { headers: { 'x-auth-id': authId!, 'x-auth-token': token! } })
    expect(after.status).toBe(401)
  })

  it('makes the owner once from a setup link, which then no longer works', async () => {
    const other = await startTestServer(dialect, { server: { host: '127.0.0.1', port: 0, public_url: 'http://127.0.0.1:9' } })
    try {
      const t = (await findTenantBySlug(other.runtime.database.db, 'default'))!
      expect(
        await other.runtime.withTenant(t.id, async (scope) =>
          (await scope.db.selectFrom('account_links').select('purpose').execute()).map((r) => r.purpose),
        ),
      ).toEqual(['setup'])
      const { token } = await other.runtime.withTenant(t.id, (scope) => issueSetupToken(scope))
      const page = await fetch(`${other.url}/setup?token=${token}`)
      expect(page.status).toBe(200)
      const fields = { token, name: 'Olga', email: 'olga@example.com', password: PASSWORD, confirm: PASSWORD }
      const made = await form(other, '/setup', fields)
      expect(made.status).toBe(303)
      expect(made.headers.get('location')).toBe('/admin')
      const cookie = made.headers
        .getSetCookie()
        .find((c) => c.startsWith('op_session='))!
        .split(';')[0]!
      expect((await fetch(`${other.url}/admin`, { headers: { cookie } })).status).toBe(200)
      expect((await form(other, '/setup', fields)).status).toBe(410)
      expect((await fetch(`${other.url}/setup?token=${token}`)).status).toBe(410)
      expect((await fetch(`${other.url}/setup?token=made-up`)).status).toBe(410)
    } finally {
      await other.stop()
    }
  })

  it('with mailed codes on, makes an owner without a password, who then signs in with a code from the sign-in page', async () => {
    const inbox = await startInbox()
    const other = await startTestServer(dialect, {
      server: { host: '127.0.0.1', port: 0, public_url: 'http://127.0.0.1:9' },
      mail: { transport: 'smtp', smtp_url: inbox.url },
      plugins: [{ builtin: 'magic' }],
    })
    try {
      const t = (await findTenantBySlug(other.runtime.database.db, 'default'))!
      const { token } = await other.runtime.withTenant(t.id, (scope) => issueSetupToken(scope))
      const setup = await (await fetch(`${other.url}/setup?token=${token}`)).text()
      expect(setup).toContain('or none: then you sign in with a code mailed to you')
      const made = await form(other, '/setup', { token, name: 'Pat', email: 'pat@example.com' })
      expect(made.status).toBe(303)
      expect(made.headers.get('location')).toBe('/admin')
      const user = await other.runtime.database.db
        .selectFrom('users')
        .selectAll()
        .where('email', '=', 'pat@example.com')
        .executeTakeFirstOrThrow()
      expect(user.password_hash).toBeNull()

      // Signed out, the owner asks for a code on the sign-in page and lands on the page they wanted.
      const asked = await form(other, '/sign-in/code', { codeEmail: 'pat@example.com', next: '/admin/programs' })
      expect(asked.status).toBe(200)
      const attemptId = /name="attemptId" value="([^"]+)"/.exec(await asked.text())![1]!
      const code = /\b(\d{6})\b/.exec((await inbox.next('pat@example.com')).text!)![1]!
      const wrong = await form(other, '/sign-in/code/verify', {
        attemptId,
        email: 'pat@example.com',
        code: code === '000000' ? '111111' : '000000',
        next: '/admin/programs',
      })
      expect(wrong.status).toBe(401)
      expect(await wrong.text()).toMatch(/id="f-code"[^>]*aria-invalid="true"/)
      const verified = await form(other, '/sign-in/code/verify', { attemptId, email: 'pat@example.com', code, next: '/admin/programs' })
      expect(verified.status).toBe(303)
      expect(verified.headers.get('location')).toBe('/admin/programs')
      const cookie = verified.headers
        .getSetCookie()
        .find((c) => c.startsWith('op_session='))!
        .split(';')[0]!
      expect((await fetch(`${other.url}/admin/programs`, { headers: { cookie } })).status).toBe(200)
    } finally {
      await other.stop()
      await inbox.close()
    }
  })

  it('sorts its lists by date both ways, from the date column’s header', async () => {
    for (const name of ['Sorting one', 'Sorting two'])
      await api('POST', '/partners', { email: `${name.replace(' ', '.')}@partners.example`, name })
    for (const list of ['/admin/partners', '/admin/links', '/admin/commissions', '/admin/payouts?status=pending']) {
      const newest = await (await get(server, list, sessions.viewer)).text()
      expect(newest, list).toMatch(/aria-sort="descending"/)
      const sep = list.includes('?') ? '&' : '?'
      const oldest = await (await get(server, `${list}${sep}sort=oldest`, sessions.viewer)).text()
      expect(oldest, list).toMatch(/aria-sort="ascending"/)
      const rows = (html: string) => [...html.matchAll(/<tr id="([^"]+)"/g)].map((m) => m[1])
      expect(rows(oldest), list).toEqual(rows(newest).reverse())
    }
    // The partners list has three rows now: the order really changes.
    const ids = [...(await (await get(server, '/admin/partners', sessions.viewer)).text()).matchAll(/<tr id="([^"]+)"/g)]
    expect(ids.length).toBeGreaterThanOrEqual(3)
  })

  it('serves the assets under hashed names, cached for a year, with ETags and gzip', async () => {
    const html = await (await get(server, '/admin', sessions.viewer)).text()
    const paths = [...html.matchAll(/(?:href|src)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)
    expect(paths.length).toBeGreaterThanOrEqual(4)
    for (const path of paths) {
      expect(path).toMatch(/^\/assets\/[a-z]+\.[0-9a-f]{12}\.(css|js)$/)
      const res = await fetch(server.url + path, { headers: { 'accept-encoding': 'gzip' } })
      expect(res.status).toBe(200)
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable')
      const etag = res.headers.get('etag')!
      expect(path).toContain(etag.replaceAll('"', ''))
      const again = await fetch(server.url + path, { headers: { 'if-none-match': etag } })
      expect(again.status).toBe(304)
    }
    expect((await fetch(`${server.url}/assets/console.000000000000.css`)).status).toBe(404)
  })
})

afterAll(() => receiver.stop())
