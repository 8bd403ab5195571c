import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDatabase } from '../src/db/database.ts'
import { findTenantBySlug } from '../src/tenants/service.ts'
import { addMembership, createUser } from '../src/users/service.ts'
import { DIALECTS, tempDir } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'
import { type Inbox, startInbox } from './support/smtp.ts'

const codeOf = (text: string) => text.match(/code is (\d{6})/)![1]!
const linkOf = (text: string) => text.match(/(http\S+\/auth\/magic\/link#\S+)/)![1]!

describe.each(DIALECTS)('magic code and link sign-in on %s', (dialect) => {
  let server: TestServer
  let inbox: Inbox
  let tenantId: string

  beforeAll(async () => {
    inbox = await startInbox()
    server = await startTestServer(dialect, {
      mail: { transport: 'smtp', smtp_url: inbox.url, from: 'Partners <partners@example.com>' },
      plugins: [{ builtin: 'magic', config: { sends_per_email_per_hour: 4, failures_per_email_per_day: 8 } }],
    })
    const { db } = server.runtime.database
    tenantId = (await findTenantBySlug(db, 'default'))!.id
    for (const email of [
      'ada@example.com',
      'cap@example.com',
      'budget@example.com',
      'link@example.com',
      'many@example.com',
      'vault@example.com',
    ]) {
      const user = await createUser(db, { email })
      await server.runtime.withTenant(tenantId, (s) => addMembership(s, user.id, 'member'))
    }
  })
  afterAll(async () => {
    await server.stop()
    await inbox.close()
  })

  const start = (email: string, path = '/api/auth/magic/start') => server.call('POST', path, { body: { email } })
  const verify = (body: Record<string, string>, path = '/api/auth/magic/verify') => server.call('POST', path, { body })

  it('mails a 6-digit code and a link, and signs in with the code of that attempt', async () => {
    const res = await start('Ada@Example.com')
    expect(res.status).toBe(202)
    const { attemptId, expiresAt } = await res.json()
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(9 * 60_000)
    const mail = await inbox.next('ada@example.com')
    expect(mail.from?.text).toContain('partners@example.com')
    const code = codeOf(mail.text!)
    expect(mail.subject).toContain(code)
    const ok = await verify({ attemptId, code })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ user: { email: 'ada@example.com' }, organization: { role: 'member' } })
    const cookie = ok.headers.getSetCookie()[0]!.split(';')[0]!
    expect((await server.call('GET', '/api/auth/session', { headers: { cookie } })).status).toBe(200)
    expect((await verify({ attemptId, code })).status).toBe(401) // single use
  })

  it('answers an unknown email exactly like a known one, and sends it nothing', async () => {
    const known = await start('ada@example.com')
    const unknown = await start('stranger@example.com')
    expect(unknown.status).toBe(known.status)
    expect(Object.keys(await unknown.json()).sort()).toEqual(Object.keys(await known.json()).sort())
    await inbox.next('ada@example.com')
    await new Promise((r) => setTimeout(r, 200))
    expect(inbox.messages.some((m) => (m.to as { text: string }).text.includes('stranger'))).toBe(false)
  })

  it('binds a code to its attempt and caps guesses per code, even for the right code afterwards', async () => {
    const first = (await (await start('cap@example.com')).json()).attemptId
    const firstCode = codeOf((await inbox.next('cap@example.com')).text!)
    const second = (await (await start('cap@example.com')).json()).attemptId
    await inbox.next('cap@example.com')
    expect((await verify({ attemptId: second, code: firstCode })).status).toBe(401) // another attempt's code
    const wrong = firstCode === '000000' ? '111111' : '000000'
    for (let i = 0; i < 5; i++) expect((await verify({ attemptId: first, code: wrong })).status).toBe(401)
    const exhausted = await verify({ attemptId: first, code: firstCode })
    expect(exhausted.status).toBe(401)
    expect(await exhausted.json()).toEqual({ error: 'invalid_code', detail: 'the code or link is wrong, used or expired' })
  })

  it('holds the cap when guesses arrive in parallel', async () => {
    const attemptId = (await (await start('many@example.com')).json()).attemptId
    const code = codeOf((await inbox.next('many@example.com')).text!)
    const wrong = code === '000000' ? '111111' : '000000'
    await Promise.all(Array.from({ length: 12 }, () => verify({ attemptId, code: wrong })))
    const attempts = (await server.runtime.withTenant(tenantId, (s) =>
      (s.db as any).selectFrom('magic_attempts').select('attempts').where('id', '=', attemptId).executeTakeFirstOrThrow(),
    )) as { attempts: number | string }
    expect(Number(attempts.attempts)).toBe(5)
    expect((await verify({ attemptId, code })).status).toBe(401)
  })

  it('limits codes sent per email per hour and failures per day (429 with Retry-After)', async () => {
    for (let i = 0; i < 4; i++) expect((await start('budget@example.com')).status).toBe(202)
    const limited = await start('budget@example.com')
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    // The failures of today's attempts count against the email, whichever attempt they hit.
    const ids = (await server.runtime.withTenant(tenantId, (s) =>
      (s.db as any).selectFrom('magic_attempts').select('id').where('email', '=', 'budget@example.com').execute(),
    )) as { id: string }[]
    for (const { id } of ids) for (let i = 0; i < 2; i++) await verify({ attemptId: id, code: '999999' })
    expect((await verify({ attemptId: ids[0]!.id, code: '123456' })).status).toBe(429)
  })

  it('expires codes: an attempt past its end signs nobody in', async () => {
    const attemptId = (await (await start('ada@example.com')).json()).attemptId
    const code = codeOf((await inbox.next('ada@example.com')).text!)
    await server.runtime.withTenant(tenantId, (s) =>
      (s.db as any)
        .updateTable('magic_attempts')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('id', '=', attemptId)
        .execute(),
    )
    expect((await verify({ attemptId, code })).status).toBe(401)
  })

  it('signs in once through the mailed link, whose token rides in the fragment', async () => {
    await start('link@example.com')
    const link = linkOf((await inbox.next('link@example.com')).text!)
    const url = new URL(link)
    expect(url.origin).toBe('http://localhost:8080')
    expect(url.search).toBe('')
    const page = await server.call('GET', url.pathname)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Confirm to sign in')
    const token = url.hash.slice(1)
    expect((await verify({ token })).status).toBe(200)
    expect((await verify({ token })).status).toBe(401)
  })

  it('offers PartnersMy’s /auth/magic-code paths, and takes the attempt from its cookie', async () => {
    const res = await start('ada@example.com', '/api/auth/magic-code')
    expect(res.status).toBe(202)
    const attemptCookie = res.headers.getSetCookie()[0]!.split(';')[0]!
    const code = codeOf((await inbox.next('ada@example.com')).text!)
    const ok = await server.call('POST', '/api/auth/magic-code/verify', { body: { code }, headers: { cookie: attemptCookie } })
    expect(ok.status).toBe(200)
  })

  it('keeps neither codes nor link tokens in the database', async () => {
    await start('vault@example.com')
    const text = (await inbox.next('vault@example.com')).text!
    const owner = await createDatabase({ database: server.runtime.config.database, role: 'owner' })
    const dump = JSON.stringify((await sql`select * from magic_attempts`.execute(owner.db)).rows)
    await owner.close()
    expect(dump).not.toContain(codeOf(text))
    expect(dump).not.toContain(new URL(linkOf(text)).hash.slice(1))
  })
})

describe('the file mail transport', () => {
  it('writes each message as an .eml file an operator can read, readable by the owner only', async () => {
    const dir = tempDir()
    const server = await startTestServer('sqlite', { mail: { transport: 'file', dir }, plugins: [{ builtin: 'magic' }] })
    try {
      const { db } = server.runtime.database
      const tenant = (await findTenantBySlug(db, 'default'))!
      const user = await createUser(db, { email: 'dev@example.com' })
      await server.runtime.withTenant(tenant.id, (s) => addMembership(s, user.id, 'owner'))
      await server.call('POST', '/api/auth/magic/start', { body: { email: 'dev@example.com' } })
      let files: string[] = []
      for (let i = 0; i < 50 && files.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 20))
        files = readdirSync(dir).filter((f) => f.endsWith('.eml'))
      }
      expect(files).toHaveLength(1)
      const eml = readFileSync(join(dir, files[0]!), 'utf8')
      expect(eml).toMatch(/^To: dev@example\.com$/m)
      expect(eml).toMatch(/sign-in code is \d{6}/)
    } finally {
      await server.stop()
    }
  })
})
