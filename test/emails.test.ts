/**
 * One email rule for every way an email comes in: an address carrying a bidirectional override,
 * a zero-width or other invisible character, or a control character reads as another address on a
 * page or in the audit log, so it is refused (400 invalid_email) by password sign-in, the magic
 * code request, sign-up and adding a member alike, and nothing is written for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { findTenantBySlug } from '../src/tenants/service.ts'
import { addMembership, createUser, normalizeEmail } from '../src/users/service.ts'
import { DIALECTS, tempDir } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const PASSWORD = 'a sound enough password'
const HIDDEN = [
  ...['\u202a', '\u202b', '\u202c', '\u202d', '\u202e'], // embeddings and overrides
  ...['\u2066', '\u2067', '\u2068', '\u2069'], // isolates
  ...['\u200e', '\u200f'], // marks
  ...['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff'], // zero-width, word joiner, BOM
  ...['\u0007', '\u0008', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009b'], // C0, DEL, C1
  ...['\u00ad', '\u2028', '\u2029', '\ud800'], // soft hyphen, separators, a lone surrogate
]
/** Each character inside the address, and at its ends (where trimming would have hidden a BOM or a tab). */
const spoofed = (email: string) => HIDDEN.flatMap((c) => [`${email.slice(0, 3)}${c}${email.slice(3)}`, `${c}${email}`, `${email}${c}`])

describe('the email rule', () => {
  it('refuses control and invisible characters wherever they sit, and keeps trimming plain spaces', () => {
    for (const email of spoofed('ada@example.com')) {
      expect(() => normalizeEmail(email), JSON.stringify(email)).toThrow(
        /invalid_email: .*control or invisible characters \(U\+[0-9A-F]{4}\)/,
      )
    }
    expect(normalizeEmail('  Ada@Example.COM ')).toBe('ada@example.com')
    expect(normalizeEmail('zoë@exämple.com')).toBe('zoë@exämple.com')
  })
})

describe.each(DIALECTS)('emails with hidden characters on %s', (dialect) => {
  let server: TestServer
  let tenantId: string

  beforeAll(async () => {
    server = await startTestServer(dialect, {
      mail: { transport: 'file', dir: tempDir() },
      plugins: [{ builtin: 'magic' }, { builtin: 'password', config: { sign_up: true, sign_ups_per_address_per_hour: 10_000 } }],
    })
    const { db } = server.runtime.database
    tenantId = (await findTenantBySlug(db, 'default'))!.id
    const user = await createUser(db, { email: 'ada@example.com', password: PASSWORD, emailVerified: true })
    await server.runtime.withTenant(tenantId, (scope) => addMembership(scope, user.id, 'member'))
  })
  afterAll(() => server.stop())

  const routes = {
    'password sign-in': (email: string) => server.call('POST', '/api/auth/sign-in/email', { body: { email, password: PASSWORD } }),
    'magic code request': (email: string) => server.call('POST', '/api/auth/magic/start', { body: { email } }),
    'magic code request (PartnersMy path)': (email: string) => server.call('POST', '/api/auth/magic-code', { body: { email } }),
    'password sign-up': (email: string) => server.call('POST', '/api/auth/sign-up/email', { body: { email, password: PASSWORD } }),
    'member invite': (email: string) => server.call('POST', '/api/members', { key: server.adminKey, body: { email, role: 'viewer' } }),
    'partner create': (email: string) => server.call('POST', '/api/partners', { key: server.adminKey, body: { email } }),
  }

  it('refuses them with 400 invalid_email on every route that takes an email, writing nothing', async () => {
    const count = async () => {
      const { db } = server.runtime.database
      const users = (await db.selectFrom('users').select('id').execute()).length
      const rest = await server.runtime.withTenant(tenantId, async (scope) => ({
        partners: (await scope.db.selectFrom('partners').select('id').where('tenant_id', '=', tenantId).execute()).length,
        memberships: (await scope.db.selectFrom('memberships').select('id').where('tenant_id', '=', tenantId).execute()).length,
      }))
      return { users, ...rest }
    }
    const before = await count()
    for (const [route, send] of Object.entries(routes)) {
      for (const base of ['ada@example.com', 'new.person@example.com']) {
        for (const email of spoofed(base)) {
          const res = await send(email)
          const body = await res.json()
          // A lone surrogate is no text at all: every request's input guard refuses it first.
          const lone = !email.isWellFormed()
          expect({ route, email: JSON.stringify(email), status: res.status, error: body.error }).toEqual({
            route,
            email: JSON.stringify(email),
            status: 400,
            error: lone ? 'invalid_request' : 'invalid_email',
          })
          expect(body.detail).toMatch(lone ? /well-formed Unicode/ : /control or invisible characters/)
        }
      }
    }
    expect(await count()).toEqual(before)

    // The plain address still works on each of them.
    expect((await routes['password sign-in']('ada@example.com')).status).toBe(200)
    expect((await routes['magic code request']('ada@example.com')).status).toBe(202)
    expect((await routes['member invite']('new.person@example.com')).status).toBe(201)
  })
})
