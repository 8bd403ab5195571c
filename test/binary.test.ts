/**
 * The compiled binary, driven as an operator would: built once, started on a free port with a temp
 * config, called over HTTP, stopped. Also the external example plugin loaded from disk by the binary,
 * the CLI, and every bad start exiting at once with one line naming its cause.
 */
import { spawnSync } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import Stripe from 'stripe'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createPartner as createPieceAction } from '../integrations/activepieces/index.ts'
import pkg from '../package.json' with { type: 'json' }
import { BINARY, ROOT, run, type Served, serve, stop, stopAll, writeConfig } from './support/binary.ts'
import { DIALECTS, databaseSection, secretsSection, tempDir } from './support/databases.ts'
import { startOidcProvider } from './support/oidc.ts'
import { freePort } from './support/ports.ts'
import { startReceiver } from './support/receiver.ts'
import { walkRedirects } from './support/redirects.ts'

const HELLO = join(ROOT, 'examples', 'plugins', 'hello', 'index.ts')

function sqliteConfig(dir: string, extra: Record<string, unknown> = {}) {
  return {
    server: { host: '127.0.0.1', port: 0 },
    database: { sqlite: { path: join(dir, 'partnerd.db') } },
    logging: { level: 'info' },
    ...extra,
  }
}

/** A plugin file of one setup statement, as an author would write it (no imports). */
function pluginFile(dir: string, name: string, setup: string): string {
  const file = join(dir, `${name}.js`)
  writeFileSync(file, `export default { name: '${name}', version: '1.0.0', setup(host) { ${setup} } }\n`)
  return file
}

/** `partnerd user create` for a config; the password, when given, goes in on standard input. */
function createUser(config: string, email: string, options: { role?: string; password?: string } = {}) {
  const args = ['user', 'create', '--email', email, '--role', options.role ?? 'owner', '--config', config]
  if (options.password !== undefined) args.push('--password-stdin', '--json')
  const r = spawnSync(BINARY, args, { input: options.password, encoding: 'utf8', env: { ...process.env, ADMIN_API_KEY: '' } })
  expect(r.status, r.stderr).toBe(0)
  return r.stdout
}

// The binary is built once for the run, by test/support/global-setup.ts.
beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: the global setup builds it`)
})

afterEach(stopAll)

describe('dist/partnerd', () => {
  it('starts on SQLite: /health, /ready, a 401 from a protected route, and the printed admin key works', async () => {
    const dir = tempDir()
    const port = await freePort()
    const config = writeConfig(sqliteConfig(dir, { server: { host: '127.0.0.1', port } }))
    const { url, bootstrapKey, proc, stdout } = await serve(config)
    // The container health check: the binary asks its own /ready.
    expect(run(['health', '--config', config]).code).toBe(0)
    const health = await fetch(`${url}/health`)
    expect(await health.json()).toMatchObject({ status: 'ok', version: pkg.version })
    expect((await fetch(`${url}/ready`)).status).toBe(200)
    const denied = await fetch(`${url}/api/tenant`)
    expect(denied.status).toBe(401)
    expect(denied.headers.get('www-authenticate')).toContain('Bearer')
    expect(await denied.json()).toMatchObject({ error: 'unauthorized' })
    const key = await bootstrapKey()
    const ok = await fetch(`${url}/api/tenant`, { headers: { authorization: `Bearer ${key}` } })
    expect(await ok.json()).toMatchObject({ slug: 'default' })
    await stop(proc)
    expect(run(['health', '--config', config]).code).toBe(1)
    // Its access log, on stdout among the other log lines: every line whole, the /health one with its id.
    const lines = stdout()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    const requests = lines.filter((line) => line.msg === 'request')
    expect(requests.find((line) => line.requestId === health.headers.get('x-request-id'))).toMatchObject({
      method: 'GET',
      route: '/health',
      status: 200,
      ip: '127.0.0.1',
    })
    expect(requests.map((line) => line.route)).toEqual(expect.arrayContaining(['/ready', '/api/tenant']))
  })

  it("starts itself again in place with the allocator's hole purging off, and keeps an operator's own setting", async () => {
    const config = writeConfig(sqliteConfig(tempDir()))
    // Verbose, mimalloc prints its options each time a process starts.
    const purgeHoles = async (served: Served, starts: number) => {
      for (let waited = 0; waited < 5000 && served.stderr().split('process init').length <= starts; waited += 20) {
        await new Promise((r) => setTimeout(r, 20))
      }
      return [...served.stderr().matchAll(/option 'purge_holes': (\d+)/g)].map((m) => m[1])
    }
    const tuned = await serve(config, { MIMALLOC_VERBOSE: '1', MIMALLOC_PURGE_HOLES: undefined })
    expect(await purgeHoles(tuned, 2)).toEqual(['1', '0'])
    // The same process, the one that was spawned, now runs with the setting.
    expect(readFileSync(`/proc/${tuned.proc.pid}/environ`, 'utf8').split('\0')).toContain('MIMALLOC_PURGE_HOLES=0')
    expect((await fetch(`${tuned.url}/health`)).status).toBe(200)
    await stop(tuned.proc)

    const kept = await serve(config, { MIMALLOC_VERBOSE: '1', MIMALLOC_PURGE_HOLES: '1' })
    expect((await fetch(`${kept.url}/health`)).status).toBe(200)
    expect(await purgeHoles(kept, 1)).toEqual(['1'])
  })

  it('is one file in dist/, with its source maps inside it: stack traces name the source files', async () => {
    expect(readdirSync(join(ROOT, 'dist'))).toEqual(['partnerd'])
    const dir = tempDir()
    // The plugin's setup is called by the core's loader: the captured stack passes through it.
    const plugin = pluginFile(
      dir,
      'where',
      "const stack = new Error('here').stack; host.routes((api) => api.get('/where', () => ({ stack })))",
    )
    const served = await serve(writeConfig(sqliteConfig(dir, { plugins: [{ path: plugin }] })))
    const { stack } = (await (await fetch(`${served.url}/api/where`)).json()) as { stack: string }
    expect(stack).toContain('src/plugins/loader.ts:')
    expect(stack).not.toContain('$bunfs')
  })

  it('loads the example plugin from disk: its config, its table (kept across restarts), its route and errors', async () => {
    const dir = tempDir()
    const config = writeConfig(sqliteConfig(dir, { plugins: [{ path: HELLO, config: { greeting: 'Howdy' } }] }))
    const first = await serve(config)
    const key = await first.bootstrapKey()
    const hello = (url: string, name: string) =>
      fetch(`${url}/api/hello`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      })
    expect((await fetch(`${first.url}/api/hello`, { method: 'POST' })).status).toBe(401)
    expect(await (await hello(first.url, 'Ada')).json()).toEqual({ message: 'Howdy, Ada!', visits: 1 })
    expect(await (await hello(first.url, 'Grace')).json()).toEqual({ message: 'Howdy, Grace!', visits: 2 })
    const refused = await hello(first.url, 'nobody')
    expect(refused.status).toBe(400)
    expect(await refused.json()).toEqual({ error: 'unknown_name', detail: 'say hello to somebody' })
    await stop(first.proc)

    const second = await serve(config)
    expect(await (await hello(second.url, 'Linus')).json()).toEqual({ message: 'Howdy, Linus!', visits: 3 })
    const doc = await (await fetch(`${second.url}/api/openapi.json`)).json()
    expect(doc.paths['/api/hello'].post.tags).toEqual(['Hello (example plugin)'])
  })

  it('signs a person in with a password: user created by the CLI, session cookie, sign-out', async () => {
    const config = writeConfig(sqliteConfig(tempDir()))
    const made = createUser(config, 'ada@example.com', { role: 'admin', password: 'a long enough password\n' })
    expect(JSON.parse(made)).toMatchObject({ email: 'ada@example.com', role: 'admin', tenant: 'default' })
    expect(made).not.toContain('password')
    const { url } = await serve(config)
    const signIn = (password: string) =>
      fetch(`${url}/api/auth/sign-in/email`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'ada@example.com', password }),
      })
    expect((await signIn('not the password')).status).toBe(401)
    const res = await signIn('a long enough password')
    expect(res.status).toBe(200)
    const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!
    expect(cookie).toMatch(/^op_session=/)
    expect(await (await fetch(`${url}/api/auth/session`, { headers: { cookie } })).json()).toMatchObject({
      organization: { role: 'admin' },
    })
    expect((await fetch(`${url}/api/auth/sign-out`, { method: 'POST', headers: { cookie } })).status).toBe(204)
    expect((await fetch(`${url}/api/auth/session`, { headers: { cookie } })).status).toBe(401)
  })

  it('issues and honours JWTs and rotating refresh tokens (jose inside the binary)', async () => {
    const dir = tempDir()
    const secret = 's'.repeat(8) + crypto.randomUUID() + crypto.randomUUID()
    const config = writeConfig(sqliteConfig(dir, { plugins: [{ builtin: 'jwt', config: { signing_secret: secret } }] }))
    createUser(config, 'grace@example.com', { role: 'member', password: 'another long password' })
    const { url } = await serve(config)
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const { tokens } = await (await post('/api/auth/token', { email: 'grace@example.com', password: 'another long password' })).json()
    expect(tokens.token_type).toBe('Bearer')
    const me = await fetch(`${url}/api/tenant`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    expect(await me.json()).toMatchObject({ principal: { kind: 'user' } })
    const next = await post('/api/auth/token/refresh', { refresh_token: tokens.refresh_token })
    expect(next.status).toBe(200)
    expect((await post('/api/auth/token/refresh', { refresh_token: tokens.refresh_token })).status).toBe(401)
  })

  it('signs in by magic code, the mail written as an .eml file (nodemailer inside the binary)', async () => {
    const dir = tempDir()
    const mailDir = join(dir, 'mail')
    const config = writeConfig(sqliteConfig(dir, { mail: { transport: 'file', dir: mailDir }, plugins: [{ builtin: 'magic' }] }))
    createUser(config, 'mags@example.com')
    const { url } = await serve(config)
    const post = (path: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const { attemptId } = await (await post('/api/auth/magic/start', { email: 'mags@example.com' })).json()
    let eml = ''
    for (let i = 0; i < 100 && !eml; i++) {
      await new Promise((r) => setTimeout(r, 20))
      const files = existsSync(mailDir) ? readdirSync(mailDir) : []
      if (files[0]) eml = readFileSync(join(mailDir, files[0]), 'utf8')
    }
    const code = eml.match(/code is (\d{6})/)?.[1]
    expect(code, eml).toBeDefined()
    const signedIn = await post('/api/auth/magic/verify', { attemptId, code })
    expect(signedIn.status).toBe(200)
    expect(signedIn.headers.getSetCookie()[0]).toMatch(/^op_session=/)
  })

  it('signs in with OpenID Connect against a real provider (arctic and jose inside the binary)', async () => {
    const dir = tempDir()
    const [port, idpPort] = [await freePort(), await freePort()]
    const publicUrl = `http://127.0.0.1:${port}`
    const idp = await startOidcProvider(idpPort, `${publicUrl}/api/auth/oauth/corp/callback`, {
      ada: { email: 'ada@corp.example', email_verified: true },
    })
    try {
      const config = writeConfig(
        sqliteConfig(dir, {
          server: { host: '127.0.0.1', port, public_url: publicUrl },
          plugins: [
            {
              builtin: 'oauth',
              config: { providers: { corp: { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret } } },
            },
          ],
        }),
      )
      createUser(config, 'ada@corp.example')
      const { url } = await serve(config)
      const walk = await walkRedirects(`${url}/api/auth/oauth/corp`, (next) => next === `${url}/`)
      const session = walk.cookie(url, 'op_session')
      expect(session, `last answer ${walk.last.status}`).toBeTruthy()
      const me = await fetch(`${url}/api/auth/session`, { headers: { cookie: `op_session=${session}` } })
      expect(await me.json()).toMatchObject({ user: { email: 'ada@corp.example' } })
    } finally {
      await idp.close()
    }
  })

  it('authenticates X-Auth-ID / X-Auth-Token pairs (the xauth plugin inside the binary)', async () => {
    const dir = tempDir()
    const adminKey = randomBytes(32).toString('hex')
    const config = writeConfig(sqliteConfig(dir, { auth: { admin_api_keys: adminKey }, plugins: [{ builtin: 'xauth' }] }))
    const { url, proc } = await serve(config)
    const post = async (path: string, body: unknown) =>
      (
        await fetch(`${url}/api${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      ).json()
    const partner = await post('/partners', { email: 'binary-pair@partners.example' })
    const pair = await post('/xauth/credentials', { kind: 'partner', name: 'bin', partnerId: partner.id })
    const me = await fetch(`${url}/api/me`, { headers: { 'x-auth-id': pair.authId, 'x-auth-token': pair.authToken } })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ principal: { kind: 'xauth_partner', partnerId: partner.id } })
    const wrong = await fetch(`${url}/api/me`, { headers: { 'x-auth-id': pair.authId, 'x-auth-token': 'nope' } })
    expect(wrong.status).toBe(401)
    await stop(proc)
  })

  it('keeps pending webhook deliveries across a kill -9, and delivers each once when the receiver recovers', async () => {
    const receiver = startReceiver()
    receiver.plan = ['hang'] // the first attempt times out; the rest fail until the restart
    receiver.otherwise = 'fail'
    const dir = tempDir()
    const adminKey = randomBytes(32).toString('hex')
    const config = writeConfig(
      sqliteConfig(dir, {
        auth: { admin_api_keys: adminKey },
        webhooks: { retry_schedule_ms: [50, 100, 200, 400, 800, 1600], poll_interval_ms: 20, timeout_ms: 500, allow_hosts: ['127.0.0.1'] },
      }),
    )
    try {
      const first = await serve(config)
      const post = (url: string, path: string, body: unknown) =>
        fetch(`${url}/api${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        })
      expect((await post(first.url, '/webhooks', { url: receiver.url, events: ['partner.created'] })).status).toBe(201)
      for (let i = 0; i < 5; i++) expect((await post(first.url, '/partners', { email: `kill${i}@partners.example` })).status).toBe(201)
      for (let waited = 0; receiver.received.length < 6 && waited < 5000; waited += 20) await new Promise((r) => setTimeout(r, 20))
      expect(receiver.received.length).toBeGreaterThanOrEqual(6) // all tried, one timed out, all refused
      first.proc.kill('SIGKILL')
      await new Promise((r) => first.proc.once('exit', r))

      receiver.otherwise = 'ok'
      const second = await serve(config)
      for (let waited = 0; receiver.successesById().size < 5 && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20))
      expect(receiver.successesById().size).toBe(5)
      expect([...receiver.successesById().values()].every((n) => n === 1)).toBe(true)
      await stop(second.proc)
    } finally {
      receiver.stop()
    }
  })

  it('takes Stripe webhooks (the stripe plugin inside the binary)', async () => {
    const secret = 'whsec_binary_stripe_secret'
    const adminKey = randomBytes(32).toString('hex')
    const config = writeConfig(
      sqliteConfig(tempDir(), { auth: { admin_api_keys: adminKey }, plugins: [{ builtin: 'stripe', config: { webhook_secret: secret } }] }),
    )
    const { url, proc } = await serve(config)
    const payload = JSON.stringify({
      id: 'evt_bin_1',
      type: 'invoice.paid',
      data: { object: { id: 'in_bin', amount_paid: 1999, currency: 'eur', customer: 'cus_bin', payment_intent: 'pi_bin' } },
    })
    const signature = new Stripe('sk_test_not_used').webhooks.generateTestHeaderString({ payload, secret })
    const send = (sig: string) =>
      fetch(`${url}/api/integrations/stripe/webhook`, { method: 'POST', headers: { 'stripe-signature': sig }, body: payload })
    const ok = await send(signature)
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ recorded: true, eventId: expect.stringMatching(/^evt_/) })
    expect((await send(signature.replace(/v1=[0-9a-f]+/, 'v1=00'))).status).toBe(401)
    await stop(proc)
  })

  it('serves the Zapier integration, the ActivePieces piece and CRM webhooks (their plugins inside the binary)', async () => {
    const adminKey = randomBytes(32).toString('hex')
    const shared = 'binary-crm-shared-secret-0123'
    const config = writeConfig(
      sqliteConfig(tempDir(), {
        auth: { admin_api_keys: adminKey },
        plugins: [
          { builtin: 'zapier' },
          { builtin: 'activepieces' },
          { builtin: 'crm-webhooks', config: { sources: { crm: { kind: 'generic', secret: shared, user_id: 'customer' } } } },
        ],
      }),
    )
    const { url, proc } = await serve(config)
    const zapier = createRequire(import.meta.url)('zapier-platform-core')
    const App = createRequire(import.meta.url)('../integrations/zapier/index.js')
    const appTester = zapier.createAppTester(App)
    const authData = { baseUrl: `${url}/api`, apiKey: adminKey }
    expect(await appTester(App.authentication.test, { authData })).toMatchObject({ tenant: { slug: 'default' } })
    const partner = await appTester(App.creates.create_partner.operation.perform, {
      authData,
      inputData: { email: 'binzap@partners.example' },
    })
    expect((await appTester(App.triggers.partner_created.operation.performList, { authData }))[0]).toMatchObject({ id: partner.id })

    const pieceRun = (createPieceAction as unknown as { run: (ctx: unknown) => Promise<{ email: string }> }).run
    expect(await pieceRun({ auth: authData, propsValue: { email: 'binpiece@partners.example' } })).toMatchObject({
      email: 'binpiece@partners.example',
    })

    const body = JSON.stringify({ id: 'deal-1', stage: 'won', customer: 'bin-customer', amount: '10.00', currency: 'usd' })
    const signature = `sha256=${createHmac('sha256', shared).update(body).digest('hex')}`
    const won = await fetch(`${url}/api/integrations/crm/crm`, { method: 'POST', headers: { 'x-signature': signature }, body })
    expect(await won.json()).toMatchObject({ recorded: [expect.stringMatching(/^evt_/)] })

    // A key bound to one program earns nothing in another through an automation plugin: the binding
    // is applied by the host, not by the plugin.
    const api = async (method: string, path: string, body?: unknown, key = adminKey) =>
      (
        await fetch(`${url}/api${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
      ).json()
    const program = (name: string) =>
      api('POST', '/programs', {
        name,
        currency: 'USD',
        status: 'active',
        destinationUrl: 'https://shop.example.com/',
        rules: [{ on: 'sale', percent: '10' }],
      })
    const [own, other] = [await program('Own'), await program('Other')]
    const link = await api('POST', '/links', { partnerId: partner.id, programId: other.id })
    const click = await fetch(`${url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 Firefox/140.0' } })
    const cref = new URL(click.headers.get('location')!).searchParams.get('cref')
    await api('POST', '/attribution/identify', { cref, userId: 'bin-other-customer' })
    const bound = await api('POST', '/api-keys', { name: 'own program only', programId: own.id })
    const sale = { userId: 'bin-other-customer', type: 'sale', value: '80.00', currency: 'USD' }
    const viaZapier = await api('POST', '/integrations/zapier/actions/record-event', { ...sale, externalEventId: 'bin-bound' }, bound.key)
    expect(viaZapier.attribution.status).toBe('no_click')
    expect(viaZapier.commissions).toEqual([])
    // The control: the unbound key's sale of the same customer pays in the other program.
    const unbound = await api('POST', '/attribution/events', { ...sale, externalEventId: 'bin-unbound' })
    expect(unbound.commissions.map((c: { programId: string }) => c.programId)).toEqual([other.id])
    await stop(proc)
  })

  it('answers --version and --help, and manages keys from the command line', () => {
    expect(run(['--version']).stdout.trim()).toBe(pkg.version)
    const help = run(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('tenant create')
    const config = writeConfig(sqliteConfig(tempDir()))
    const created = run(['key', 'create', '--name', 'crm', '--scopes', 'events:write', '--json', '--config', config])
    expect(created.code, created.stderr).toBe(0)
    const key = JSON.parse(created.stdout)
    expect(key).toMatchObject({ name: 'crm', scopes: ['events:write'], key: expect.stringMatching(/^op_live_/) })
    const listed = JSON.parse(run(['key', 'list', '--json', '--config', config]).stdout)
    expect(listed.map((k: { id: string }) => k.id)).toContain(key.id)
    expect(JSON.stringify(listed)).not.toContain(key.key)
    expect(run(['key', 'revoke', key.id, '--config', config]).stdout).toContain(`revoked ${key.id}`)
    expect(
      JSON.parse(run(['key', 'list', '--json', '--config', config]).stdout).find((k: { id: string }) => k.id === key.id).revokedAt,
    ).not.toBeNull()
    const tenants = run(['tenant', 'list', '--config', config])
    expect(tenants.stdout).toMatch(/^default\tten_/m)
    // A tenant's default currency: what its programs are in unless they say otherwise.
    expect(help.stdout).toContain('--currency')
    const shop = run(['tenant', 'create', 'shop', '--currency', 'EUR', '--json', '--config', config])
    expect(shop.code, shop.stderr).toBe(0)
    expect(JSON.parse(shop.stdout)).toMatchObject({ slug: 'shop', defaultCurrency: 'EUR' })
    expect(JSON.parse(run(['tenant', 'create', 'plain', '--json', '--config', config]).stdout)).toMatchObject({ defaultCurrency: 'USD' })
    const bad = run(['tenant', 'create', 'odd', '--currency', 'XYZ', '--config', config])
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim()).toBe('partnerd: unknown_currency: XYZ is not an ISO 4217 currency partnerd can pay in')
    expect(run(['tenant', 'list', '--config', config]).stdout).not.toMatch(/^odd\t/m)
    expect(run(['frobnicate']).code).toBe(2)
  })

  it('exits at once with one line naming the cause of every bad start', async () => {
    const dir = tempDir()
    const blocker: Server = createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const busyPort = (blocker.address() as { port: number }).port
    const aFile = join(dir, 'not-a-dir')
    writeFileSync(aFile, 'x')
    mkdirSync(join(dir, 'x'), { recursive: true })
    const cases: [string | Record<string, unknown>, RegExp][] = [
      [{ server: { prot: 1 } }, /unknown key server\.prot/],
      ['server: [', /not valid YAML/],
      [{ ...sqliteConfig(dir), plugins: [{ path: './nope.ts' }] }, /plugins\.0\.path: .*nope\.ts does not exist/],
      [{ ...sqliteConfig(dir), server: { host: '127.0.0.1', port: busyPort } }, /server\.port: 127\.0\.0\.1:\d+ is in use/],
      [{ database: { sqlite: { path: join(aFile, 'partnerd.db') } } }, /database\.sqlite\.path: cannot open/],
      [
        { database: { postgres: { url: 'postgres://x:y@127.0.0.1:1/db' } }, secrets: secretsSection('postgres') },
        /database\.postgres\.url: cannot connect to postgres:\/\/x:\*\*\*@127\.0\.0\.1:1\/db/,
      ],
      [{ database: { postgres: { url: 'postgres://x:y@127.0.0.1:1/db' } } }, /^partnerd: secrets\.key is required with database\.postgres/],
      [{ ...sqliteConfig(dir), secrets: { key: 'changeme' } }, /^partnerd: secrets\.key: not a key/],
      [{ ...sqliteConfig(dir), auth: { admin_api_keys: 'changeme' } }, /auth\.admin_api_keys: key 1 is 8 characters/],
      // Plugin files, loaded by the binary: one answering for a core route, one listening for a typo.
      [
        {
          ...sqliteConfig(dir),
          plugins: [{ path: pluginFile(dir, 'takeover', "host.routes((api) => api.get('/programs', () => ({ mine: true })))") }],
        },
        /^partnerd: plugin .*takeover\.js: the route GET \/api\/programs is already registered by core$/,
      ],
      [
        { ...sqliteConfig(dir), plugins: [{ path: pluginFile(dir, 'typo', "host.on('partner.create', () => {})") }] },
        /^partnerd: plugin .*typo\.js: on\("partner\.create"\): no such event type \(did you mean partner\.created/,
      ],
    ]
    try {
      for (const [settings, message] of cases) {
        const config = writeConfig(settings as Record<string, unknown>, join(dir, 'x'))
        const r = run(['serve', '--config', config])
        const lines = r.stderr.trim().split('\n')
        expect(r.code, r.stderr).toBe(1)
        expect(lines, r.stderr).toHaveLength(1)
        expect(lines[0]).toMatch(/^partnerd: /)
        expect(lines[0]).toMatch(message)
        expect(r.ms).toBeLessThan(8000)
      }
    } finally {
      blocker.close()
    }
  })
  it('refuses to start on a port another partnerd listens on, rather than share it', async () => {
    const port = await freePort()
    const first = await serve(writeConfig({ ...sqliteConfig(tempDir()), server: { host: '127.0.0.1', port } }))
    const second = run(['serve', '--config', writeConfig({ ...sqliteConfig(tempDir()), server: { host: '127.0.0.1', port } })])
    expect(second.code, second.stderr).toBe(1)
    expect(second.stderr.trim()).toMatch(new RegExp(`^partnerd: server\\.port: 127\\.0\\.0\\.1:${port} is in use$`))
    expect((await fetch(`${first.url}/health`)).status).toBe(200)
  })
})

describe.each(DIALECTS)('dist/partnerd runs the partner program on %s', (dialect) => {
  it('program → partner → link → click → identify → sale → commission → holdback → approve → payout → paid → refund → clawback', async () => {
    const adminKey = randomBytes(32).toString('hex')
    const config = writeConfig({
      server: { host: '127.0.0.1', port: 0 },
      database: await databaseSection(dialect),
      secrets: secretsSection(dialect),
      auth: { admin_api_keys: adminKey },
      logging: { level: 'info' },
    })
    const { url, proc } = await serve(config)
    const call = async (method: string, path: string, body?: unknown, expected = [200, 201]) => {
      const res = await fetch(`${url}/api${path}`, {
        method,
        headers: { authorization: `Bearer ${adminKey}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      })
      const data = await res.json()
      expect(expected, `${method} ${path}: ${res.status} ${JSON.stringify(data)}`).toContain(res.status)
      return data
    }
    const newProgram = (holdbackDays: number) =>
      call('POST', '/programs', {
        name: `Launch ${holdbackDays}`,
        currency: 'EUR',
        status: 'active',
        destinationUrl: 'https://shop.example.com/',
        holdbackDays,
        rules: [{ on: 'sale', percent: '25' }],
      })
    const partner = await call('POST', '/partners', { email: 'e2e@partners.example' })
    /** Click the partner's link in `program`, identify the visitor, and record their sale. */
    const referSale = async (program: { id: string }, userId: string, value: string) => {
      const link = await call('POST', '/links', { partnerId: partner.id, programId: program.id })
      const click = await fetch(`${url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
      expect(click.status).toBe(302)
      const cref = new URL(click.headers.get('location')!).searchParams.get('cref')!
      expect(click.headers.get('set-cookie')).toContain(`_cref=${cref}`)
      await call('POST', '/attribution/identify', { cref, userId })
      return call('POST', '/attribution/events', { userId, type: 'sale', value, currency: 'EUR', externalEventId: `inv-${userId}` })
    }

    // Holdback: a program that holds commissions for 14 days refuses an early approval.
    const held = (await referSale(await newProgram(14), 'customer-held', '10.00')).commissions[0]
    expect(await call('POST', `/commissions/${held.id}/approve`, undefined, [409])).toMatchObject({
      error: 'holdback_active',
      matureAt: held.matureAt,
    })

    // Without a holdback the commission can be approved at once, paid out, and clawed back on refund.
    const sale = await referSale(await newProgram(0), 'customer-1', '80.00')
    expect(sale.commissions).toEqual([expect.objectContaining({ amount: '20.00', currency: 'EUR', status: 'accrued' })])
    const commission = sale.commissions[0]
    expect(await call('POST', `/commissions/${commission.id}/approve`)).toMatchObject({ status: 'approved' })
    const { payouts } = await call('POST', '/payouts/run', { minimumAmount: { EUR: '10.00' } })
    expect(payouts).toEqual([expect.objectContaining({ partnerId: partner.id, amount: '20.00', currency: 'EUR', status: 'pending' })])
    await call('POST', '/payouts/mark-paid', { payoutIds: [payouts[0].id], reference: 'SEPA-1' })
    expect(await call('GET', `/commissions/${commission.id}`)).toMatchObject({ status: 'paid', payoutId: payouts[0].id })
    const refund = await call('POST', '/attribution/events', {
      userId: 'customer-1',
      type: 'refund',
      value: '80.00',
      currency: 'EUR',
      externalEventId: 'refund-1',
      refundOf: 'inv-customer-1',
    })
    expect(refund.commissions).toEqual([expect.objectContaining({ kind: 'clawback', amount: '-20.00', reversesId: commission.id })])
    const replay = await call('POST', '/attribution/events', {
      userId: 'customer-1',
      type: 'refund',
      value: '80.00',
      currency: 'EUR',
      externalEventId: 'refund-1',
      refundOf: 'inv-customer-1',
    })
    expect(replay.eventId).toBe(refund.eventId)
    const { commissions } = await call('GET', `/partners/${partner.id}/commissions`)
    expect(commissions.filter((c: { kind: string }) => c.kind === 'clawback')).toHaveLength(1)
    const csv = await fetch(`${url}/api/payouts/export.csv?status=paid`, { headers: { authorization: `Bearer ${adminKey}` } })
    expect(await csv.text()).toContain(`${payouts[0].id},${partner.id},e2e@partners.example,,20.00,EUR,1,paid,SEPA-1`)
    await stop(proc)
  })
})
