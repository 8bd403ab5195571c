/**
 * Secrets at rest, on both databases: after a realistic run (webhooks created and rotated, a
 * postback, tenants, a magic sign-in, keys of each kind, X-Auth pairs, JWT refresh tokens, an
 * invitation) no secret the API handed out, nor any the server keeps to read
 * back, is found in the database's bytes (SQLite's file and write-ahead log; PostgreSQL's data files, WAL and rows).
 * Deliveries still verify with the secrets as handed out; a wrong or missing key stops the start
 * naming secrets.key; a rotation re-seals everything so the old key can go; values stored in
 * plaintext by an older partnerd are sealed by the first start after the upgrade.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto'
import { rmSync, statSync } from 'node:fs'
import type { Kysely } from 'kysely'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { afterEach, describe, expect, it } from 'vitest'
import { coreMigrations } from '../migrations/index.ts'
import { secretsCommand } from '../src/cli/commands.ts'
import type { LoadedConfig } from '../src/config/load.ts'
import { createDatabase } from '../src/db/database.ts'
import { migrate } from '../src/db/migrate.ts'
import { openRuntime, type Runtime } from '../src/runtime.ts'
import { Keyring } from '../src/secrets/keyring.ts'
import { generateKey, keyFileFor } from '../src/secrets/keys.ts'
import { createTenant, findTenantBySlug } from '../src/tenants/service.ts'
import { addMembership, createUser } from '../src/users/service.ts'
import { postgresText, sqliteFilesText } from './support/database-text.ts'
import { DIALECTS, testConfig } from './support/databases.ts'
import { type Receiver, startReceiver } from './support/receiver.ts'
import { startTestServer, type TestServer } from './support/server.ts'
import { startInbox } from './support/smtp.ts'
import { until } from './support/until.ts'

const WEBHOOKS = { poll_interval_ms: 20, timeout_ms: 1000, retry_schedule_ms: [50, 100, 200], allow_hosts: ['127.0.0.1'] }
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex')
const JWT_SECRET = randomBytes(32).toString('base64url')
/** The one-time token of a sign-in or invitation link in a mail. */
const tokenOf = (text: string) => text.match(/\/auth\/magic\/link#(\S+)/)![1]!

function caller(server: TestServer, key = server.adminKey) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await server.call(method, `/api${path}`, { key, body })
    const json = res.status === 204 ? null : await res.json()
    expect(res.status, `${method} ${path}: ${JSON.stringify(json)}`).toBeLessThan(300)
    return json
  }
}

/** Waits for a delivery of `type` (its data picked by `match`) that the standardwebhooks library verifies with `secret`. */
function verifiedDelivery(receiver: Receiver, secret: string, type: string, match: (data: any) => boolean) {
  const verifier = new StandardWebhook(secret)
  return until(`a ${type} delivery signed with the secret`, () =>
    receiver.received.find((r) => {
      if (r.method !== 'POST' || !r.headers['webhook-signature']) return false
      const envelope = JSON.parse(r.body)
      if (envelope.type !== type || !match(envelope.data)) return false
      try {
        verifier.verify(r.body, r.headers)
        return true
      } catch {
        return false
      }
    }),
  )
}

/** The config of `loaded` with other secrets (the same database). */
function withSecrets(loaded: LoadedConfig, secrets: { key?: string; previous_keys?: string }): LoadedConfig {
  return { ...loaded, config: { ...loaded.config, secrets: { key: '', previous_keys: '', ...secrets } } }
}

describe('Keyring', () => {
  it('seals each value under its key id, bound to its row, and refuses altered or moved values', async () => {
    const { deriveKey } = await import('../src/secrets/keyring.ts')
    const key = deriveKey(randomBytes(32), 'secrets.key')
    const ring = new Keyring([key])
    const at = { table: 'webhook_endpoints' as const, id: 'whk_1' }
    const sealed = ring.seal('whsec_abc', at)
    expect(sealed).toMatch(new RegExp(`^v1:${key.kid}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$`))
    expect(ring.seal('whsec_abc', at)).not.toBe(sealed) // a fresh IV every time
    expect(ring.open(sealed, at)).toBe('whsec_abc')
    expect(() => ring.open(sealed, { ...at, id: 'whk_2' })).toThrow(/does not open under key id .*it was altered/)
    // One bit of the ciphertext changed (through its bytes: a base64 character may carry unused bits).
    const body = Buffer.from(sealed.slice(sealed.lastIndexOf(':') + 1), 'base64url')
    body[0] = body[0]! ^ 1
    const flipped = `${sealed.slice(0, sealed.lastIndexOf(':') + 1)}${body.toString('base64url')}`
    expect(() => ring.open(flipped, at)).toThrow(/altered/)
    const other = new Keyring([deriveKey(randomBytes(32), 'secrets.key')])
    expect(() => other.open(sealed, at)).toThrow(new RegExp(`secrets\\.key: stored secrets are sealed with key id ${key.kid}`))
    expect(Keyring.isSealed('whsec_abc')).toBe(false)
    // Keyed digests: not a plain SHA-256, the same under the same key, checked against old keys too.
    expect(ring.digest('plugin magic', 'a:123456')).not.toBe(sha256('a:123456'))
    const rotated = new Keyring([deriveKey(randomBytes(32), 'secrets.key'), key])
    expect(rotated.digestMatches('plugin magic', 'a:123456', ring.digest('plugin magic', 'a:123456'))).toBe(true)
    expect(rotated.digestMatches('plugin other', 'a:123456', ring.digest('plugin magic', 'a:123456'))).toBe(false)
  })
})

describe.each(DIALECTS)('secrets at rest on %s', (dialect) => {
  const cleanup: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn()
  })
  const track = <T extends { stop(): unknown }>(thing: T): T => {
    cleanup.push(() => void thing.stop())
    return thing
  }

  // Up to two minutes: on PostgreSQL it checkpoints the cluster the whole suite shares and reads the
  // WAL every other test has written meanwhile, which under a full run's load takes a while.
  it('keeps no secret it handed out or reads back in the database, and deliveries verify with the secrets handed out', {
    timeout: 120_000,
  }, async () => {
    const startedAt = Date.now()
    const receiver = track(startReceiver())
    const inbox = await startInbox()
    cleanup.push(() => inbox.close())
    const server = await startTestServer(dialect, {
      webhooks: { ...WEBHOOKS, rotation_overlap_seconds: 3600 },
      mail: { transport: 'smtp', smtp_url: inbox.url },
      plugins: [{ builtin: 'magic' }, { builtin: 'xauth' }, { builtin: 'jwt', config: { signing_secret: JWT_SECRET } }],
    })
    cleanup.push(() => server.stop())
    const { runtime } = server
    const api = caller(server)
    const handedOut: Record<string, string> = { 'bootstrap admin key': server.adminKey, 'JWT signing secret': JWT_SECRET }

    const first = await api('POST', '/webhooks', { url: receiver.url, events: ['partner.created'] })
    const second = await api('POST', '/webhooks', { url: receiver.url, events: ['partner.created'], format: 'openpartner' })
    const rotated = await api('POST', `/webhooks/${first.id}/rotate-secret`)
    Object.assign(handedOut, { 'webhook secret': first.secret, 'openpartner secret': second.secret, 'rotated secret': rotated.secret })
    const partner = await api('POST', '/partners', { email: 'vault-partner@partners.example' })
    const postback = await api('POST', `/partners/${partner.id}/postbacks`, { url: `${receiver.url}/pb?click={click_id}` })
    // Every other credential the server hands out, each kept as a digest only.
    const scoped = await api('POST', '/api-keys', { name: 'scoped', scopes: ['links:read'] })
    const partnerKey = await api('POST', '/api-keys', { name: 'partner', partnerId: partner.id })
    const customerPair = await api('POST', '/xauth/credentials', { kind: 'customer', name: 'billing', scopes: ['partners:read'] })
    const partnerPair = await api('POST', '/xauth/credentials', { kind: 'partner', name: 'crm', partnerId: partner.id })
    Object.assign(handedOut, {
      'scoped key': scoped.key,
      'partner key': partnerKey.key,
      'customer X-Auth token': customerPair.authToken,
      'partner X-Auth token': partnerPair.authToken,
    })
    await api('POST', `/partners/${partner.id}/invite`)
    handedOut['partner invitation token'] = tokenOf((await inbox.next('vault-partner@partners.example')).text!)
    const acme = await createTenant(runtime.database.db, runtime.bus, runtime.secrets, { slug: 'acme' })
    await createTenant(runtime.database.db, runtime.bus, runtime.secrets, { slug: 'globex' })

    // A magic sign-in: the code and link go by mail, the session cookie comes back.
    const tenant = (await findTenantBySlug(runtime.database.db, 'default'))!
    const user = await createUser(runtime.database.db, { email: 'vault@example.com' })
    await runtime.withTenant(tenant.id, (s) => addMembership(s, user.id, 'member'))
    const started = await server.call('POST', '/api/auth/magic/start', { body: { email: 'vault@example.com' } })
    const { attemptId } = await started.json()
    const mail = (await inbox.next('vault@example.com')).text!
    const code = mail.match(/code is (\d{6})/)![1]!
    const signedIn = await server.call('POST', '/api/auth/magic/verify', { body: { attemptId, code } })
    expect(signedIn.status).toBe(200)
    const passwordUser = await createUser(runtime.database.db, { email: 'vault-jwt@example.com', password: 'a long vault password' })
    await runtime.withTenant(tenant.id, (s) => addMembership(s, passwordUser.id, 'viewer'))
    const issued = await server.call('POST', '/api/auth/token', {
      body: { email: 'vault-jwt@example.com', password: 'a long vault password' },
    })
    const { tokens } = await issued.json()
    const renewed = await (await server.call('POST', '/api/auth/token/refresh', { body: { refresh_token: tokens.refresh_token } })).json()
    Object.assign(handedOut, {
      'JWT refresh token': tokens.refresh_token,
      'rotated JWT refresh token': renewed.tokens.refresh_token,
      'magic link token': tokenOf(mail),
      'session token': decodeURIComponent(signedIn.headers.getSetCookie()[0]!.split(';')[0]!.split('=')[1]!),
      // How the code was kept before: a million tries would have found it.
      'sha256 of the attempt and code': sha256(`${attemptId}:${code}`),
    })

    // What the server keeps to read back is sealed, and opens to what was handed out.
    const keptToRead: Record<string, string> = {}
    for (const row of await runtime.database.db.selectFrom('tenants').select(['id', 'click_salt']).execute()) {
      expect(Keyring.isSealed(row.click_salt!), `click key of ${row.id}`).toBe(true)
      keptToRead[`click key of ${row.id}`] = runtime.secrets.open(row.click_salt!, { table: 'tenants', id: row.id })
    }
    expect(Object.keys(keptToRead)).toContain(`click key of ${acme.id}`)
    const endpoints = await runtime.withTenant(tenant.id, (scope) =>
      scope.db.selectFrom('webhook_endpoints').select(['id', 'secret', 'previous_secret']).where('tenant_id', '=', tenant.id).execute(),
    )
    expect(endpoints).toHaveLength(3)
    for (const row of endpoints) {
      const at = { table: 'webhook_endpoints' as const, id: row.id }
      for (const [column, value] of [
        ['secret', row.secret],
        ['previous_secret', row.previous_secret],
      ] as const) {
        if (value === null) continue
        expect(Keyring.isSealed(value), `${column} of ${row.id}`).toBe(true)
        keptToRead[`${column} of ${row.id}`] = runtime.secrets.open(value, at)
      }
    }
    expect(keptToRead[`secret of ${first.id}`]).toBe(rotated.secret)
    expect(keptToRead[`previous_secret of ${first.id}`]).toBe(first.secret)
    expect(keptToRead[`secret of ${second.id}`]).toBe(second.secret)
    expect(keptToRead[`secret of ${postback.id}`]).toMatch(/^whsec_/) // never handed out, sealed all the same
    const attempt: { code_hash: string } = await runtime.withTenant(tenant.id, (scope) =>
      (scope.db as any).selectFrom('magic_attempts').select('code_hash').where('id', '=', attemptId).executeTakeFirstOrThrow(),
    )
    expect(attempt.code_hash).toMatch(/^[0-9a-f]{64}$/)

    // Deliveries are signed with the opened secrets: both during the rotation, each verifiable.
    const revealed = await api('POST', '/partners', { email: 'after-rotation@partners.example' })
    const isRevealed = (data: any) => data.id === revealed.id
    for (const secret of [rotated.secret, first.secret]) await verifiedDelivery(receiver, secret, 'partner.created', isRevealed)
    const openpartner = await until('the openpartner delivery', () =>
      receiver.received.find((r) => r.headers['x-openpartner-signature'] && isRevealed(JSON.parse(r.body).data)),
    )
    // OpenPartner's header: the hex HMAC of "timestamp.body", keyed with the whole secret.
    const expected = createHmac('sha256', second.secret)
      .update(`${openpartner.headers['x-openpartner-timestamp']}.${openpartner.body}`)
      .digest('hex')
    expect(openpartner.headers['x-openpartner-signature']).toBe(expected)

    const dump =
      dialect === 'sqlite'
        ? sqliteFilesText(runtime.config.database.sqlite!.path)
        : await postgresText(runtime.config.database.postgres!.migration_url!, startedAt)
    // The suite's own server is local: its files are read, not only its rows.
    if (dialect === 'postgres' && !process.env.TEST_DATABASE_URL) expect(dump.how).toBe('postgres files and rows')
    // The search finds what is there (the partner's email), so finding nothing means something.
    expect(dump.holds('vault-partner@partners.example'), dump.how).toBe(true)
    const needles = { ...handedOut, ...keptToRead }
    for (const [what, value] of Object.entries(needles)) {
      expect(dump.holds(value), `${what} in the ${dump.how}`).toBe(false)
      // A webhook secret's HMAC key is its base64 part: not that either.
      if (value.startsWith('whsec_')) expect(dump.holds(value.slice('whsec_'.length)), `${what}'s key in the ${dump.how}`).toBe(false)
    }
    expect(Object.keys(needles).length).toBeGreaterThanOrEqual(21)
  })

  it('stops the start, naming secrets.key, when the key is wrong or missing', async () => {
    const server = await startTestServer(dialect)
    const loaded = server.runtime.loaded
    const database = server.runtime.config.database
    await server.stop()
    const sameDatabase = (secrets: { key?: string; previous_keys?: string }) =>
      withSecrets({ ...loaded, config: { ...loaded.config, database } }, secrets)

    await expect(openRuntime(sameDatabase({ key: generateKey() }), { migrate: true })).rejects.toThrow(
      /^secrets\.key: stored secrets are sealed with key id [0-9a-f]{8}, which is none of the keys given: [0-9a-f]{8} \(secrets\.key\)/,
    )
    await expect(openRuntime(sameDatabase({ key: 'not a key at all' }), { migrate: true })).rejects.toThrow(/^secrets\.key: not a key/)
    await expect(openRuntime(sameDatabase({ key: 'A'.repeat(43) }), { migrate: true })).rejects.toThrow(
      /^secrets\.key: looks like a placeholder/,
    )
    if (dialect === 'postgres') {
      await expect(openRuntime(sameDatabase({}), { migrate: true })).rejects.toThrow(/^secrets\.key is required with database\.postgres/)
      return
    }
    // SQLite without secrets.key: the generated key file, private to its owner; gone, the start fails rather than make another.
    const keyFile = keyFileFor(database.sqlite!.path)
    expect(statSync(keyFile).mode & 0o777).toBe(0o600)
    const again = await openRuntime(sameDatabase({}), { migrate: true })
    await again.close()
    rmSync(keyFile)
    await expect(openRuntime(sameDatabase({}), { migrate: true })).rejects.toThrow(
      /^secrets\.key: no key is configured and the key file .*partnerd\.db\.key does not exist, but the database's secrets are sealed \(key id [0-9a-f]{8}\)/,
    )
    expect(() => statSync(keyFile)).toThrow() // and no new key was made over the sealed values
  })

  it('rotates: the new key seals, the old one opens until `secrets rotate` re-seals everything, then it can be dropped', async () => {
    const receiver = track(startReceiver())
    const [oldKey, newKey] = [generateKey(), generateKey()]
    const before = await startTestServer(dialect, { webhooks: WEBHOOKS, secrets: { key: oldKey } })
    const adminKey = before.adminKey
    const old = await caller(before)('POST', '/webhooks', { url: receiver.url, events: ['partner.created'] })
    const program = await caller(before)('POST', '/programs', {
      name: 'Rotation',
      currency: 'EUR',
      status: 'active',
      destinationUrl: 'https://shop.example.com/',
      rules: [{ on: 'sale', percent: '10' }],
    })
    const loaded = before.runtime.loaded
    const database = before.runtime.config.database
    await before.stop()
    const start = async (secrets: { key: string; previous_keys?: string }) => {
      const server = await startTestServer(dialect, { webhooks: WEBHOOKS, database, secrets: { previous_keys: '', ...secrets } })
      cleanup.push(() => server.stop())
      return { server, api: caller(server, adminKey) }
    }

    // Step 1: the new key seals, the old one still opens.
    const during = await start({ key: newKey, previous_keys: oldKey })
    const fresh = await during.api('POST', '/webhooks', { url: receiver.url, events: ['partner.created'] })
    const p1 = await during.api('POST', '/partners', { email: 'during@partners.example' })
    for (const secret of [old.secret, fresh.secret]) await verifiedDelivery(receiver, secret, 'partner.created', (d) => d.id === p1.id)
    await during.server.stop()
    cleanup.pop()

    // Step 2: `partnerd secrets rotate` re-seals what the old key sealed.
    const printed: string[] = []
    const rotating = withSecrets({ ...loaded, config: { ...loaded.config, database } }, { key: newKey, previous_keys: oldKey })
    await secretsCommand(
      () => rotating,
      'rotate',
      { json: true },
      (line) => void printed.push(line),
    )
    const report = JSON.parse(printed[0]!)
    expect(report.resealed).toBeGreaterThanOrEqual(2) // the tenant's click key and the old endpoint's secret
    expect(report.stored).toBe(report.resealed + 1) // the fresh endpoint was under the new key already
    printed.length = 0
    await secretsCommand(
      () => rotating,
      'rotate',
      { json: true },
      (line) => void printed.push(line),
    )
    expect(JSON.parse(printed[0]!).resealed).toBe(0) // nothing left under the old key

    // Step 3: the old key dropped, everything still opens: deliveries verify, clicks are hashed.
    const after = await start({ key: newKey })
    const p2 = await after.api('POST', '/partners', { email: 'after@partners.example' })
    for (const secret of [old.secret, fresh.secret]) await verifiedDelivery(receiver, secret, 'partner.created', (d) => d.id === p2.id)
    const link = await after.api('POST', '/links', { partnerId: p2.id, programId: program.id })
    const click = await fetch(`${after.server.url}/r/${link.key}`, { redirect: 'manual' })
    expect(click.status).toBe(302)
    await after.server.stop()
    cleanup.pop()
    // And the old key alone no longer opens anything.
    await expect(openRuntime(withSecrets(rotating, { key: oldKey }), { migrate: true })).rejects.toThrow(
      /^secrets\.key: stored secrets are sealed/,
    )
  })

  it('seals the plaintext an older partnerd stored, once, at the first start after the upgrade', async () => {
    const loaded = await testConfig(dialect)
    // The database as partnerd left it before sealing: migrated up to 0015, secrets in plaintext.
    const owner = await createDatabase({ database: loaded.config.database, role: 'owner' })
    const before = Object.fromEntries(Object.entries(coreMigrations).filter(([name]) => name < '0016'))
    await migrate(owner, [{ owner: 'core', migrations: before }])
    const now = new Date().toISOString()
    const salt = randomBytes(32).toString('base64url')
    const [secret, previous] = [`whsec_${randomBytes(24).toString('base64')}`, `whsec_${randomBytes(24).toString('base64')}`]
    // The tenants table as 0015 left it (today's row type has later columns).
    await (owner.db as unknown as Kysely<any>)
      .insertInto('tenants')
      .values({ id: 'ten_old', slug: 'default', name: 'Default', created_at: now, click_salt: salt })
      .execute()
    // Enough rows that updating them splits pages, where old bytes would linger.
    const others = Array.from({ length: 150 }, (_, i) => ({ id: `whk_other${i}`, secret: `whsec_${randomBytes(24).toString('base64')}` }))
    for (const row of [{ id: 'whk_old', secret }, ...others])
      await owner.db
        .insertInto('webhook_endpoints')
        .values({
          id: row.id,
          tenant_id: 'ten_old',
          url: 'http://127.0.0.1:9/never-sent',
          events: '["*"]',
          label: null,
          format: 'standard',
          secret: row.secret,
          previous_secret: row.id === 'whk_old' ? previous : null,
          previous_secret_until: new Date(Date.now() + 3_600_000).toISOString(),
          active: 1,
          disabled_reason: null,
          failing_since: null,
          created_at: now,
          updated_at: now,
          partner_id: null,
        } as never)
        .execute()
    await owner.close()

    const read = async (rt: Runtime) => {
      const tenant = await rt.database.db.selectFrom('tenants').select('click_salt').where('id', '=', 'ten_old').executeTakeFirstOrThrow()
      const endpoint = await rt.withTenant('ten_old', (scope) =>
        scope.db
          .selectFrom('webhook_endpoints')
          .select(['secret', 'previous_secret'])
          .where('id', '=', 'whk_old')
          .executeTakeFirstOrThrow(),
      )
      return [tenant.click_salt!, endpoint.secret, endpoint.previous_secret!]
    }
    const upgraded = await openRuntime(loaded, { migrate: true })
    const sealed = await read(upgraded)
    for (const value of sealed) expect(Keyring.isSealed(value)).toBe(true)
    expect(upgraded.secrets.open(sealed[0]!, { table: 'tenants', id: 'ten_old' })).toBe(salt)
    const at = { table: 'webhook_endpoints' as const, id: 'whk_old' }
    expect([upgraded.secrets.open(sealed[1]!, at), upgraded.secrets.open(sealed[2]!, at)]).toEqual([secret, previous])
    expect(await upgraded.database.db.selectFrom('upkeep').selectAll().execute()).toEqual([]) // done, not owed again
    if (dialect === 'sqlite') {
      // The file was rebuilt and its log emptied: the plaintext bytes are gone, not just superseded.
      const files = sqliteFilesText(loaded.config.database.sqlite!.path)
      for (const value of [salt, secret, previous, ...others.map((o) => o.secret)]) expect(files.holds(value)).toBe(false)
    }
    await upgraded.close()
    const again = await openRuntime(loaded, { migrate: true })
    expect(await read(again)).toEqual(sealed) // a second start changes nothing
    await again.close()
  })
})
