import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminKeyMatcher, parseAdminKeys } from '../src/auth/admin-keys.ts'
import { keyPrincipal } from '../src/auth/api-keys/service.ts'
import { keyStrategy } from '../src/auth/key-strategy.ts'
import { digestsEqual, sha256Hex } from '../src/auth/secrets.ts'
import { createDatabase, type Database } from '../src/db/database.ts'
import type { WithTenant } from '../src/db/with-tenant.ts'
import { createTenant, findTenantBySlug } from '../src/tenants/service.ts'
import { DIALECTS } from './support/databases.ts'
import { pgQueriesDuring } from './support/pg-queries.ts'
import { startTestServer, type TestServer } from './support/server.ts'

/** A key as presented, checked as the key strategy checks it: by its digest. */
async function verifyApiKey(database: Database, withTenant: WithTenant, tenantId: string, presented: string, now = new Date()) {
  return keyPrincipal(database, withTenant, tenantId, sha256Hex(presented), now.getTime())
}

describe('admin keys from the config', () => {
  it('refuses short and placeholder keys at start, naming the key', () => {
    expect(() => parseAdminKeys('short')).toThrow(/auth\.admin_api_keys: key 1 is 5 characters/)
    expect(() => parseAdminKeys(`${'a'.repeat(40)}`)).toThrow(/auth\.admin_api_keys: key 1 looks like a placeholder/)
    expect(() => parseAdminKeys(`${randomBytes(24).toString('hex')}, change-me-please-change-me-please-1`)).toThrow(
      /key 2 looks like a placeholder/,
    )
    expect(parseAdminKeys('')).toEqual([])
  })
})

describe('key digests', () => {
  it("are node:crypto's SHA-256 in hex, so the digests stored by any earlier partnerd still match", () => {
    for (const value of ['ps_abc', `op_live_${randomBytes(32).toString('base64url')}`, 'clé ✓ 鍵', '']) {
      expect(sha256Hex(value)).toBe(createHash('sha256').update(value).digest('hex'))
    }
  })

  it('match an admin key by its digest, each configured key as its own principal, and nothing else', () => {
    const keys = [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')]
    const match = adminKeyMatcher(keys)
    expect(match(sha256Hex(keys[0]!))).toMatchObject({ kind: 'admin', id: 'admin:1', tenantId: null, scopes: ['*'] })
    expect(match(sha256Hex(keys[1]!))).toMatchObject({ id: 'admin:2' })
    expect(match(sha256Hex(`${keys[0]}x`))).toBeNull()
    expect(match(keys[0]!)).toBeNull() // the key itself is not its digest
    expect(digestsEqual(sha256Hex('a'), sha256Hex('a'))).toBe(true)
    expect(digestsEqual(sha256Hex('a'), sha256Hex('b'))).toBe(false)
    expect(digestsEqual('ab', 'abc')).toBe(false)
    // One principal answers every request an admin key signs: frozen, so none can change another's.
    expect(Object.isFrozen(match(sha256Hex(keys[0]!)))).toBe(true)
    expect(Object.isFrozen(match(sha256Hex(keys[0]!))!.scopes)).toBe(true)
  })
})

describe.each(DIALECTS)('API keys on %s', (dialect) => {
  const envAdmin = randomBytes(32).toString('base64url')
  const rotatedIn = randomBytes(32).toString('base64url')
  let server: TestServer
  let bootstrapKey: string
  const minted: string[] = []

  beforeAll(async () => {
    server = await startTestServer(dialect, { auth: { admin_api_keys: `${envAdmin},${rotatedIn}`, api_key_prefix: 'ps_' } })
    // With admin keys configured, no bootstrap key is minted; mint the tenant admin through the env key.
    expect(server.adminKey).toBe('')
    const res = await server.call('POST', '/api/api-keys', { key: envAdmin, body: { name: 'tenant admin' } })
    expect(res.status).toBe(201)
    bootstrapKey = (await res.json()).key
    minted.push(bootstrapKey)
  })
  afterAll(() => server.stop())

  it('mints ps_ keys shown once, accepted as Bearer and as x-api-key, never listed', async () => {
    expect(bootstrapKey).toMatch(/^ps_[A-Za-z0-9_-]{43}$/)
    expect((await server.call('GET', '/api/tenant', { key: bootstrapKey })).status).toBe(200)
    expect((await server.call('GET', '/api/tenant', { headers: { 'x-api-key': bootstrapKey } })).status).toBe(200)
    const list = await (await server.call('GET', '/api/api-keys', { key: bootstrapKey })).text()
    expect(list).not.toContain(bootstrapKey.slice(3))
    expect(list).not.toContain('hash')
    expect(JSON.parse(list).apiKeys[0]).toMatchObject({ name: 'tenant admin', start: bootstrapKey.slice(0, 7), scopes: ['*'] })
  })

  it('accepts every configured admin key (rotation) and never a key in the query string', async () => {
    expect((await server.call('GET', '/api/tenant', { key: rotatedIn })).status).toBe(200)
    const inQuery = await server.call('GET', `/api/tenant?api_key=${envAdmin}`)
    expect(inQuery.status).toBe(401)
  })

  it('answers 401 with WWW-Authenticate for missing, malformed, unknown and wrong-prefix keys', async () => {
    const cases = [
      [undefined, 'unauthorized'],
      ['ps_short', 'invalid_credentials'],
      [`ps_${randomBytes(32).toString('base64url')}`, 'invalid_credentials'],
      [`op_live_${randomBytes(32).toString('base64url')}`, 'invalid_credentials'],
      [`${envAdmin}x`, 'invalid_credentials'],
    ] as const
    for (const [key, error] of cases) {
      const res = await server.call('GET', '/api/tenant', { key })
      expect(res.status, String(key)).toBe(401)
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="partnerd"/)
      expect((await res.json()).error).toBe(error)
    }
  })

  it('scoped keys: 403 forbidden_scope outside their scopes, RFC 6750’s insufficient_scope in the challenge', async () => {
    const res = await server.call('POST', '/api/api-keys', {
      key: bootstrapKey,
      body: { name: 'crm', scopes: ['events:write', 'partners:read'] },
    })
    const scoped = (await res.json()).key
    minted.push(scoped)
    expect((await server.call('GET', '/api/tenant', { key: scoped })).status).toBe(200)
    const denied = await server.call('GET', '/api/api-keys', { key: scoped })
    expect(denied.status).toBe(403)
    expect(await denied.json()).toMatchObject({ error: 'forbidden_scope', required: 'keys:read' })
    expect(denied.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/)
  })

  it('checks the credential before the body’s schema: no key → 401, wrong scope → 403', async () => {
    const garbage = { name: 42, extra: true }
    expect((await server.call('POST', '/api/api-keys', { body: garbage })).status).toBe(401)
    // Only JSON syntax is checked before the credential (the body is parsed first); it says nothing of the route.
    expect((await server.call('POST', '/api/api-keys', { body: '{not json' })).status).toBe(400)
    const scoped = (
      await (await server.call('POST', '/api/api-keys', { key: bootstrapKey, body: { name: 'reader', scopes: ['links:read'] } })).json()
    ).key
    minted.push(scoped)
    const denied = await server.call('POST', '/api/api-keys', { key: scoped, body: garbage })
    expect(denied.status).toBe(403)
    expect((await server.call('POST', '/api/api-keys', { key: bootstrapKey, body: garbage })).status).toBe(400)
  })

  it('revocation and expiry act on the next request', async () => {
    const created = await (await server.call('POST', '/api/api-keys', { key: bootstrapKey, body: { name: 'temp' } })).json()
    minted.push(created.key)
    expect((await server.call('GET', '/api/tenant', { key: created.key })).status).toBe(200)
    const revoked = await server.call('POST', `/api/api-keys/${created.id}/revoke`, { key: bootstrapKey })
    expect(await revoked.json()).toMatchObject({ id: created.id, revokedAt: expect.any(String) })
    expect((await server.call('GET', '/api/tenant', { key: created.key })).status).toBe(401)
    expect((await server.call('POST', '/api/api-keys/key_nope/revoke', { key: bootstrapKey })).status).toBe(404)

    const expiring = await (
      await server.call('POST', '/api/api-keys', {
        key: bootstrapKey,
        body: { name: 'short-lived', expiresAt: new Date(Date.now() + 60_000).toISOString() },
      })
    ).json()
    minted.push(expiring.key)
    const tenantId = (await (await server.call('GET', '/api/tenant', { key: expiring.key })).json()).id
    const later = new Date(Date.now() + 120_000)
    const { database, withTenant } = server.runtime
    const atExpiry = await verifyApiKey(database, withTenant, tenantId, expiring.key, later)
    expect(atExpiry).toBeNull()
    const past = await server.call('POST', '/api/api-keys', { key: bootstrapKey, body: { name: 'x', expiresAt: '2001-01-01T00:00:00Z' } })
    expect(await past.json()).toMatchObject({ error: 'invalid_expiry' })
  })

  it('keeps an audit trail of keys minted and revoked, readable by admins only', async () => {
    const created = await (
      await server.call('POST', '/api/api-keys', { key: bootstrapKey, body: { name: 'audited', scopes: ['links:read'] } })
    ).json()
    minted.push(created.key)
    await server.call('POST', `/api/api-keys/${created.id}/revoke`, { key: envAdmin })
    const res = await server.call('GET', '/api/audit-events?limit=200', { key: bootstrapKey })
    const events = (await res.json()).auditEvents as { type: string; subject: string; actor: string; detail: Record<string, unknown> }[]
    const about = events.filter((e) => e.subject === created.id)
    expect(about.map((e) => e.type)).toEqual(['api_key.revoked', 'api_key.created']) // newest first
    expect(about[0]!.actor).toBe('admin:1')
    expect(about[1]!.detail).toEqual({ name: 'audited', scopes: ['links:read'] })
    expect(JSON.stringify(events)).not.toContain(created.key)
    expect((await server.call('GET', '/api/audit-events', { key: created.key })).status).toBe(401)
  })

  it('answers a key checked a moment ago at once, without a promise, until it is revoked', async () => {
    const created = await (await server.call('POST', '/api/api-keys', { key: bootstrapKey, body: { name: 'at once' } })).json()
    minted.push(created.key)
    const { database, withTenant } = server.runtime
    const tenant = (await findTenantBySlug(database.db, 'default'))!
    const strategy = keyStrategy({ adminKeys: [], prefix: 'ps_', database })
    const input = () => ({
      request: new Request('http://partnerd.test/api/tenant', { headers: { 'x-api-key': created.key } }),
      tenant,
      withTenant,
    })
    const first = await strategy.authenticate(input())
    expect(first).toMatchObject({ kind: 'api_key', id: created.id, tenantId: tenant.id })
    const again = strategy.authenticate(input())
    expect(again).not.toBeInstanceOf(Promise)
    expect(again).toBe(first) // the one principal made when the key was read
    expect(Object.isFrozen(again)).toBe(true)
    expect((await server.call('POST', `/api/api-keys/${created.id}/revoke`, { key: bootstrapKey })).status).toBe(200)
    await expect(Promise.resolve().then(() => strategy.authenticate(input()))).rejects.toMatchObject({
      status: 401,
      code: 'invalid_credentials',
    })
  })

  it('records last use at most once a minute, so verifying stays a read', async () => {
    const created = await (await server.call('POST', '/api/api-keys', { key: bootstrapKey, body: { name: 'usage' } })).json()
    minted.push(created.key)
    const tenantId = (await (await server.call('GET', '/api/tenant', { key: created.key })).json()).id
    const lastUsed = () =>
      server.runtime.withTenant(tenantId, (s) =>
        s.db.selectFrom('api_keys').select('last_used_at').where('id', '=', created.id).executeTakeFirstOrThrow(),
      )
    const first = (await lastUsed()).last_used_at
    expect(first).not.toBeNull()
    await server.call('GET', '/api/tenant', { key: created.key })
    expect((await lastUsed()).last_used_at).toBe(first)
    const twoMinutesOn = new Date(Date.parse(first!) + 120_000)
    await verifyApiKey(server.runtime.database, server.runtime.withTenant, tenantId, created.key, twoMinutesOn)
    expect((await lastUsed()).last_used_at).toBe(twoMinutesOn.toISOString())
    // Requests arriving together when a last use is due write it once between them.
    let writes = 0
    const counting = ((id, fn, options) => {
      writes++
      return server.runtime.withTenant(id, fn, options)
    }) as WithTenant
    const fourMinutesOn = new Date(Date.parse(first!) + 240_000)
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => verifyApiKey(server.runtime.database, counting, tenantId, created.key, fourMinutesOn)),
    )
    expect(answers.every((principal) => principal?.id === created.id)).toBe(true)
    expect(writes).toBe(1)
    expect((await lastUsed()).last_used_at).toBe(fourMinutesOn.toISOString())
  })

  it('stores no key in plaintext anywhere in the database', async () => {
    const secrets = minted.map((k) => k.slice(3))
    expect(secrets.length).toBeGreaterThanOrEqual(4)
    let haystack: string
    const { config } = server.runtime
    if (dialect === 'sqlite') {
      // Everything into the database file: the WAL's checkpoint thread may be mid-pass, which makes
      // this checkpoint give up (busy = 1), so it is tried again.
      for (let attempt = 0; attempt < 100; attempt++) {
        const { rows } = await sql<{ busy: number }>`pragma wal_checkpoint(TRUNCATE)`.execute(server.runtime.database.db)
        if (rows[0]?.busy === 0) break
        await Bun.sleep(10)
      }
      const path = server.runtime.loaded.config.database.sqlite!.path
      haystack = readFileSync(path).toString('latin1')
    } else {
      const owner = await createDatabase({ database: config.database, role: 'owner' })
      const rows = await sql`select * from api_keys`.execute(owner.db)
      haystack = JSON.stringify(rows.rows)
      await owner.close()
    }
    expect(haystack).toContain('tenant admin')
    for (const secret of secrets) expect(haystack).not.toContain(secret)
  })
})

describe('API key checks on postgres', () => {
  it('cost one round trip, then none while remembered: a single statement, no transaction, still confined to the tenant', async () => {
    const server = await startTestServer('postgres')
    try {
      const other = await createTenant(server.runtime.database.db, server.runtime.bus, server.runtime.secrets, { slug: 'other' })
      const { database, withTenant } = server.runtime
      const tenantId = (await (await server.call('GET', '/api/tenant', { key: server.adminKey })).json()).id
      // Its last use was just recorded: the check writes nothing.
      database.credentials.keys.forget()
      const { result, queries } = await pgQueriesDuring(() => verifyApiKey(database, withTenant, tenantId, server.adminKey))
      expect(result).toMatchObject({ kind: 'api_key', tenantId })
      expect(queries).toHaveLength(1)
      expect(queries[0]).toMatch(/^with tenant as materialized \(select set_config\('app\.tenant_id'/)
      // The same key again within a few seconds: a memory lookup (auth/credential-cache.ts).
      const again = await pgQueriesDuring(() => verifyApiKey(database, withTenant, tenantId, server.adminKey))
      expect(again.result).toMatchObject({ kind: 'api_key', tenantId })
      expect(again.queries).toHaveLength(0)
      // Asked as another tenant, the same key is nobody's.
      expect(await verifyApiKey(database, withTenant, other.id, server.adminKey)).toBeNull()
    } finally {
      await server.stop()
    }
  })
})
