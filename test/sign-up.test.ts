/**
 * Sign-up, where enabled: a new person joins as a partner (its portal user) by password or by a mailed
 * code (PartnersMy's register-magic), and is signed in; programs still decide whether it earns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'
import { type Inbox, startInbox } from './support/smtp.ts'

const codeOf = (text: string) => text.match(/code is (\d{6})/)![1]!

describe.each(DIALECTS)('sign-up on %s', (dialect) => {
  let server: TestServer
  let inbox: Inbox
  beforeAll(async () => {
    inbox = await startInbox()
    server = await startTestServer(dialect, {
      mail: { transport: 'smtp', smtp_url: inbox.url },
      plugins: [
        { builtin: 'password', config: { sign_up: true, sign_ups_per_address_per_hour: 6 } },
        { builtin: 'magic', config: { sign_up: true } },
      ],
    })
  })
  afterAll(async () => {
    await server.stop()
    await inbox.close()
  })
  const me = async (cookie: string) => (await server.call('GET', '/api/me', { headers: { cookie } })).json()

  it('signs a new partner up with a password, once per email', async () => {
    const res = await server.call('POST', '/api/auth/sign-up/email', {
      body: { email: 'New@Partners.example', password: 'a long enough passphrase', name: 'Nova' },
    })
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ user: { email: 'new@partners.example' }, organization: { role: 'partner' } })
    const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!
    expect(await me(cookie)).toMatchObject({
      principal: { role: 'partner' },
      partner: { email: 'new@partners.example', name: 'Nova', status: 'active' },
    })
    const again = await server.call('POST', '/api/auth/sign-up/email', {
      body: { email: 'new@partners.example', password: 'another passphrase 123' },
    })
    expect(again.status).toBe(409)
    expect(await again.json()).toMatchObject({ error: 'email_taken' })
    const signIn = await server.call('POST', '/api/auth/sign-in/email', {
      body: { email: 'new@partners.example', password: 'a long enough passphrase' },
    })
    expect(signIn.status).toBe(200)
  })

  it('refuses weak passwords, other sites, and too many sign-ups from one address', async () => {
    expect(
      (await server.call('POST', '/api/auth/sign-up/email', { body: { email: 'weak@partners.example', password: 'short' } })).status,
    ).toBe(400)
    const forged = await server.call('POST', '/api/auth/sign-up/email', {
      body: { email: 'csrf@partners.example', password: 'a long enough passphrase' },
      headers: { origin: 'https://evil.example' },
    })
    expect(forged.status).toBe(403)
    let last = 0
    for (let i = 0; i < 6; i++) {
      last = (
        await server.call('POST', '/api/auth/sign-up/email', {
          body: { email: `burst${i}@partners.example`, password: 'a long enough passphrase' },
        })
      ).status
    }
    expect(last).toBe(429)
  })

  it('signs a new partner up by mailed code on the PartnersMy path, and takes over a partner record of that email', async () => {
    const res = await server.call('POST', '/api/auth/register-magic', { body: { email: 'coded@partners.example', name: 'Cody' } })
    expect(res.status).toBe(202)
    const { attemptId } = await res.json()
    const mail = await inbox.next('coded@partners.example')
    const verified = await server.call('POST', '/api/auth/magic/verify', { body: { attemptId, code: codeOf(mail.text!) } })
    expect(verified.status, JSON.stringify(await verified.clone().json())).toBe(200)
    expect(await verified.json()).toMatchObject({ organization: { role: 'partner' } })
    const cookie = verified.headers.getSetCookie()[0]!.split(';')[0]!
    expect(await me(cookie)).toMatchObject({ partner: { email: 'coded@partners.example', name: 'Cody' } })

    // The company created this partner; the person proves the email and becomes its portal user.
    const known = await (
      await server.call('POST', '/api/partners', { key: server.adminKey, body: { email: 'known@partners.example' } })
    ).json()
    const second = await (await server.call('POST', '/api/auth/magic/register', { body: { email: 'known@partners.example' } })).json()
    const code = codeOf((await inbox.next('known@partners.example')).text!)
    const joined = await server.call('POST', '/api/auth/magic/verify', { body: { attemptId: second.attemptId, code } })
    expect(joined.status).toBe(200)
    expect(await me(joined.headers.getSetCookie()[0]!.split(';')[0]!)).toMatchObject({ partner: { id: known.id } })
    // A sign-in attempt for an unknown email still cannot sign anyone up.
    const plain = await (await server.call('POST', '/api/auth/magic/start', { body: { email: 'stranger@partners.example' } })).json()
    const guess = await server.call('POST', '/api/auth/magic/verify', { body: { attemptId: plain.attemptId, code: '000000' } })
    expect(guess.status).toBe(401)
  })

  it('answers 404 on the sign-up routes where sign-up is off', async () => {
    const closed = await startTestServer(dialect, { plugins: [{ builtin: 'magic' }] })
    try {
      for (const path of ['/api/auth/sign-up/email', '/api/auth/magic/register', '/api/auth/register-magic']) {
        expect(
          (await closed.call('POST', path, { body: { email: 'x@example.com', password: 'a long enough passphrase' } })).status,
          path,
        ).toBe(404)
      }
    } finally {
      await closed.stop()
    }
  })
})
