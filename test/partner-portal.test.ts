/**
 * Partners as principals: invited by a mailed magic link, a partner's portal user reaches its own
 * links, commissions, stats, payouts and keys, and nothing else; keys bound to a partner act only as
 * it; keys bound to a program see and record only that program; revoking a partner ends it all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'
import { type Inbox, startInbox } from './support/smtp.ts'

const tokenOf = (text: string) => text.match(/\/auth\/magic\/link#(\S+)/)![1]!

describe.each(DIALECTS)('partner portal on %s', (dialect) => {
  let server: TestServer
  let inbox: Inbox
  let key: string
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await server.call(method, `/api${path}`, { key, body })
    const data = await res.json()
    expect(res.status, `${method} ${path}: ${JSON.stringify(data)}`).toBeLessThan(300)
    return data
  }

  beforeAll(async () => {
    inbox = await startInbox()
    server = await startTestServer(dialect, {
      mail: { transport: 'smtp', smtp_url: inbox.url },
      plugins: [{ builtin: 'magic' }],
    })
    key = server.adminKey
  })
  afterAll(async () => {
    await server.stop()
    await inbox.close()
  })

  it('invites a partner by magic link; its portal user sees only its own data, never management routes', async () => {
    const program = await admin('POST', '/programs', {
      name: 'Portal',
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://shop.example.com/',
      holdbackDays: 0,
      rules: [{ on: 'sale', amount: '4.00' }],
    })
    const other = await admin('POST', '/programs', {
      name: 'Other',
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://other.example.com/',
    })
    const me = await admin('POST', '/partners', { email: 'portal@partners.example', name: 'Pat' })
    const stranger = await admin('POST', '/partners', { email: 'stranger@partners.example' })
    await admin('POST', `/programs/${program.id}/enrolments`, { partnerId: me.id })
    const strangerLink = await admin('POST', '/links', { partnerId: stranger.id, programId: program.id })

    const invite = await server.call('POST', `/api/partners/${me.id}/invite`, { key })
    expect(invite.status).toBe(202)
    const mail = await inbox.next('portal@partners.example')
    expect(mail.subject).toContain('invited')
    const signIn = await server.call('POST', '/api/auth/magic/verify', { body: { token: tokenOf(mail.text!) } })
    expect(signIn.status).toBe(200)
    expect(await signIn.json()).toMatchObject({ organization: { role: 'partner' } })
    const cookie = signIn.headers.getSetCookie()[0]!.split(';')[0]!
    const asPartner = (method: string, path: string, body?: unknown) =>
      server.call(method, `/api${path}`, { body, headers: { cookie, origin: server.url } })

    const who = await (await asPartner('GET', '/me')).json()
    expect(who).toMatchObject({
      principal: { kind: 'user', role: 'partner', partnerId: me.id },
      partner: { id: me.id, email: 'portal@partners.example' },
    })
    expect(who.capabilities).toMatchObject({ partner_portal: true, manage_partners: false, record_events: false })

    const mine = await asPartner('POST', '/me/links', { programId: program.id, key: 'pat-portal' })
    expect(mine.status).toBe(201)
    expect((await asPartner('POST', '/me/links', { programId: other.id })).status).toBe(404) // not enrolled there
    const links = await (await asPartner('GET', '/me/links')).json()
    expect(links.links.map((l: { key: string }) => l.key)).toEqual(['pat-portal'])
    expect(JSON.stringify(links)).not.toContain(strangerLink.key)
    const programs = await (await asPartner('GET', '/programs')).json()
    expect(programs.programs.map((p: { id: string }) => p.id)).toEqual([program.id]) // only where it is enrolled

    const res = await fetch(`${server.url}/r/pat-portal`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
    const cref = new URL(res.headers.get('location')!).searchParams.get('cref')
    await admin('POST', '/attribution/identify', { cref, userId: 'portal-customer' })
    await admin('POST', '/attribution/events', {
      userId: 'portal-customer',
      type: 'sale',
      value: '10.00',
      currency: 'USD',
      externalEventId: 'portal-1',
    })
    const commissions = await (await asPartner('GET', '/me/commissions')).json()
    // The click came from the address the partner signs in from: a self-referral, held for review.
    expect(commissions.commissions).toEqual([
      expect.objectContaining({ partnerId: me.id, amount: '4.00', status: 'flagged', flag: 'self_referral' }),
    ])
    expect(await (await asPartner('GET', '/me/stats')).json()).toMatchObject({ clicks: { total: 1 }, conversions: { sales: 1 } })
    expect((await (await asPartner('GET', '/me/payouts')).json()).payouts).toEqual([])

    for (const [method, path] of [
      ['GET', '/partners'],
      ['GET', `/partners/${stranger.id}`],
      ['GET', '/commissions'],
      ['GET', `/partners/${stranger.id}/commissions`],
      ['POST', '/api-keys'],
      ['GET', '/links'],
      ['POST', '/payouts/run'],
      ['POST', '/attribution/events'],
      ['GET', '/export'],
    ] as const) {
      const denied = await asPartner(method, path, method === 'POST' ? {} : undefined)
      expect(denied.status, `${method} ${path}`).toBe(403)
    }

    // A key the partner mints acts only as the partner.
    const minted = await asPartner('POST', '/me/api-keys', { name: 'my zap' })
    expect(minted.status).toBe(201)
    const partnerKey = (await minted.json()).key
    const viaKey = await server.call('GET', '/api/me/links', { key: partnerKey })
    expect((await viaKey.json()).links.map((l: { key: string }) => l.key)).toEqual(['pat-portal'])
    expect((await server.call('GET', '/api/partners', { key: partnerKey })).status).toBe(403)
    expect((await server.call('GET', '/api/me/links', { key })).status).toBe(403) // the admin key is no partner
    expect((await (await asPartner('GET', '/me/api-keys')).json()).apiKeys).toHaveLength(1)

    // Revoking the partner ends its keys and its sessions.
    await admin('POST', `/partners/${me.id}/revoke`)
    expect((await server.call('GET', '/api/me', { key: partnerKey })).status).toBe(401)
    expect((await asPartner('GET', '/me')).status).toBe(401)
  })

  it('confines a key bound to a program to that program', async () => {
    const a = await admin('POST', '/programs', {
      name: 'A',
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://a.example.com/',
      rules: [{ on: 'sale', amount: '1.00' }],
    })
    const b = await admin('POST', '/programs', {
      name: 'B',
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://b.example.com/',
      rules: [{ on: 'sale', amount: '2.00' }],
    })
    const p = await admin('POST', '/partners', { email: 'bound@partners.example' })
    const la = await admin('POST', '/links', { partnerId: p.id, programId: a.id })
    const lb = await admin('POST', '/links', { partnerId: p.id, programId: b.id })
    const bound = await admin('POST', '/api-keys', {
      name: 'program A',
      scopes: ['links:read', 'links:write', 'events:write', 'commissions:read'],
      programId: a.id,
    })
    expect(bound).toMatchObject({ programId: a.id, partnerId: null })
    const wide = await server.call('POST', '/api/api-keys', { key, body: { name: 'x', scopes: ['payouts:manage'], programId: a.id } })
    expect(wide.status).toBe(400)

    const call = (method: string, path: string, body?: unknown) => server.call(method, `/api${path}`, { key: bound.key, body })
    const links = await (await call('GET', '/links')).json()
    expect(links.links.map((l: { id: string }) => l.id)).toEqual([la.id])
    expect((await call('GET', `/links/${lb.id}`)).status).toBe(404)
    expect((await call('GET', `/links?programId=${b.id}`)).status).toBe(404)
    expect((await call('POST', '/links', { partnerId: p.id, programId: b.id })).status).toBe(404)

    // The customer clicked both programs' links; the bound key's event earns in its program only.
    for (const link of [la, lb]) {
      const res = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
      await admin('POST', '/attribution/identify', {
        cref: new URL(res.headers.get('location')!).searchParams.get('cref'),
        userId: 'two-programs',
      })
    }
    const sale = await (
      await call('POST', '/attribution/events', {
        userId: 'two-programs',
        type: 'sale',
        value: '9.00',
        currency: 'USD',
        externalEventId: 'bound-1',
      })
    ).json()
    expect(sale.commissions.map((c: { programId: string; amount: string }) => [c.programId, c.amount])).toEqual([[a.id, '1.00']])
    const visible = await (await call('GET', '/commissions')).json()
    expect(visible.commissions.every((c: { programId: string }) => c.programId === a.id)).toBe(true)

    // The partner's stats and coupons, read with the bound key, are its program's alone.
    expect((await admin('GET', `/partners/${p.id}/stats`)).clicks.total).toBe(2)
    expect((await (await call('GET', `/partners/${p.id}/stats`)).json()).clicks.total).toBe(1)
    for (const [code, programId] of [
      ['BOUND-A', a.id],
      ['BOUND-B', b.id],
    ])
      await admin('POST', `/partners/${p.id}/coupons`, { code, programId })
    const coupons = await (await call('GET', `/partners/${p.id}/coupons`)).json()
    expect(coupons.coupons.map((c: { code: string }) => c.code)).toEqual(['BOUND-A'])

    // A sale recorded by an unbound key earns where the customer last clicked: program B. A refund of
    // it sent with the key bound to program A takes back nothing of what it earned in B.
    type Earned = { id: string; programId: string; status: string }
    const wideSale = await admin('POST', '/attribution/events', {
      userId: 'two-programs',
      type: 'sale',
      value: '9.00',
      currency: 'USD',
      externalEventId: 'wide-1',
    })
    expect(wideSale.commissions.map((c: Earned) => c.programId)).toEqual([b.id])
    const refunded = await call('POST', '/attribution/events', {
      userId: 'two-programs',
      type: 'refund',
      refundOf: 'wide-1',
      externalEventId: 'bound-refund-1',
    })
    expect(refunded.status).toBe(200)
    expect((await refunded.json()).commissions).toEqual([])
    const [inB] = wideSale.commissions as Earned[]
    const after = (await admin('GET', '/commissions?limit=100')).commissions.find((c: Earned) => c.id === inB!.id)
    expect(after.status).toBe(inB!.status)
  })

  it('answers 409 when no sign-in plugin can mail the invitation', async () => {
    const plain = await startTestServer(dialect)
    try {
      const partner = await (
        await plain.call('POST', '/api/partners', { key: plain.adminKey, body: { email: 'nomail@partners.example' } })
      ).json()
      const res = await plain.call('POST', `/api/partners/${partner.id}/invite`, { key: plain.adminKey })
      expect(res.status).toBe(409)
      expect(await res.json()).toMatchObject({ error: 'invitations_unavailable' })
    } finally {
      await plain.stop()
    }
  })
})
