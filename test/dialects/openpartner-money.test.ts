/**
 * OpenPartner's own integration tests, replayed over HTTP against partnerd, for what moves money and
 * who may see it: commissions, payouts, API keys and scopes, the partner dashboard and lifecycle,
 * the export bundle, and webhooks in OpenPartner's format. Each case names the test of
 * getcoherence/openpartner (apps/api/src/__tests__/…) it comes from, sends that test's requests as
 * it sends them, and checks its answers; where partnerd answers otherwise on purpose (money as
 * decimal strings, 201 for what a request creates, a commission paid when its payout is), the case
 * says so where it checks it.
 *
 * OpenPartner sets up its fixtures partly by writing rows (its clicks); here they go through the
 * API, a click through the click router. Setup that is not one of these items (programs, links,
 * identify, events) uses partnerd's own requests. Each case gets its own tenant, as OpenPartner's
 * suite empties its tables before each test; the server is multi-tenant, so `/api/t/<slug>` is
 * what OpenPartner's hosted clients call. An import keeps the bundle's ids, which are unique on a
 * server (OpenPartner imports on a single-tenant install only): a bundle goes into a server of
 * its own, as it would on the way over.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTenant } from '../../src/tenants/service.ts'
import { DIALECTS } from '../support/databases.ts'
import { type Receiver, startReceiver } from '../support/receiver.ts'
import { startTestServer, type TestServer } from '../support/server.ts'
import { type Inbox, startInbox } from '../support/smtp.ts'
import { until } from '../support/until.ts'

type Json = any

const BUNDLE = readFileSync(new URL('./fixtures/openpartner-export.json', import.meta.url), 'utf8')

describe.each(DIALECTS)('OpenPartner’s money and access tests, replayed on %s', (dialect) => {
  // OpenPartner's ADMIN_API_KEY: an operator key, valid on every tenant.
  const ADMIN_KEY = `op_test_admin_key_${randomBytes(16).toString('hex')}`
  let server: TestServer
  let receiver: Receiver
  let inbox: Inbox
  let tenants = 0
  /** Servers an import goes into, each a fresh database (stopped after the suite). */
  const targets: TestServer[] = []

  beforeAll(async () => {
    receiver = startReceiver()
    inbox = await startInbox()
    server = await startTestServer(dialect, {
      mode: 'multi',
      auth: { admin_api_keys: ADMIN_KEY },
      mail: { transport: 'smtp', smtp_url: inbox.url },
      plugins: [{ builtin: 'magic' }],
      // OpenPartner's clients create endpoints without a format: they get OpenPartner's.
      webhooks: { allow_hosts: ['127.0.0.1'], poll_interval_ms: 20, timeout_ms: 1000, default_format: 'openpartner' },
    })
  })
  afterAll(async () => {
    await Promise.all([server.stop(), ...targets.map((t) => t.stop())])
    receiver.stop()
    await inbox.close()
  })

  async function freshServer(): Promise<TestServer> {
    const target = await startTestServer(dialect, { mode: 'multi', auth: { admin_api_keys: ADMIN_KEY } })
    targets.push(target)
    return target
  }
  /** A fresh tenant, and supertest's `request(app)` for it: the base path is OpenPartner's hosted one. */
  async function tenant(on: TestServer = server) {
    const server = on
    const slug = `op-${dialect}-${++tenants}`
    await createTenant(server.runtime.database.db, server.runtime.bus, server.runtime.secrets, { slug })
    const base = `/api/t/${slug}`
    const request = async (method: string, path: string, body?: unknown, key: string | null = ADMIN_KEY) => {
      const res = await server.call(method, base + path, { key: key ?? undefined, body })
      const text = await res.text()
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null }
    }
    const ok = async (method: string, path: string, body?: unknown) => {
      const res = await request(method, path, body)
      expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300)
      return res.body
    }
    /** partnerd's own setup: an active program paying `percent` of sales, with no holdback. */
    const program = (percent = '20', extra: Record<string, unknown> = {}) =>
      ok('POST', '/programs', {
        name: `P${tenants}`,
        currency: 'USD',
        status: 'active',
        destinationUrl: 'https://example.com/signup',
        holdbackDays: 0,
        rules: [{ on: 'sale', percent }],
        ...extra,
      })
    const link = (partnerId: string, programId: string) => ok('POST', '/links', { partnerId, programId })
    /** A visitor through the click router, identified as `userId` (what OpenPartner inserts, and the SDK's identify). */
    const visit = async (linkKey: string, userId: string) => {
      const res = await fetch(`${server.url}/r/${slug}/${linkKey}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
      expect(res.status).toBe(302)
      const cref = new URL(res.headers.get('location')!).searchParams.get('cref')!
      await ok('POST', '/attribution/identify', { cref, userId })
      return cref
    }
    let n = 0
    const sale = (userId: string, value: string) =>
      ok('POST', '/attribution/events', { userId, type: 'invoice_paid', value, currency: 'USD', externalEventId: `${slug}-${++n}` })
    return { server, slug, base, request, ok, program, link, visit, sale }
  }

  // --- integration.test.ts ------------------------------------------------------------------------

  it('integration.test.ts › full funnel: partner → link → click → identify → event → attribution → payout', async () => {
    const op = await tenant()
    // 1. Admin creates a partner.
    const partnerRes = await op.request('POST', '/partners', { email: 'ada@example.com', name: 'Ada' })
    expect(partnerRes.status).toBe(201)
    const partnerId = partnerRes.body.id
    const program = await op.program('20')
    const link = await op.link(partnerId, program.id)
    await op.visit(link.key, 'user_1')
    const event = await op.sale('user_1', '200.00')
    expect(event.attribution.status).toBe('attributed')
    expect(event.commissions).toHaveLength(1)
    expect(event.commissions[0]).toMatchObject({ amount: '40.00', status: 'accrued' }) // 20% of 200

    // 8. Admin approves.
    const approveRes = await op.request('POST', `/commissions/${event.commissions[0].id}/approve`)
    expect(approveRes.status).toBe(200)
    expect(approveRes.body.commission.status).toBe('approved')
    expect(approveRes.body.status).toBe('approved') // partnerd's own clients read the commission itself

    // 9. Run payouts: no payment provider for the partner, so method manual, status pending.
    const payoutRes = await op.request('POST', '/payouts/run')
    expect(payoutRes.status).toBe(201) // OpenPartner answers 200; partnerd 201, as the run makes payouts
    expect(payoutRes.body).toMatchObject({ runId: expect.stringMatching(/^run_/), mode: 'selfhost' })
    expect(payoutRes.body.payouts).toHaveLength(1)
    expect(payoutRes.body.payouts[0].method).toBe('manual')
    expect(payoutRes.body.payouts[0].status).toBe('pending')
    expect(payoutRes.body.payouts[0].amount).toBe('40.00') // OpenPartner: the number 40
    const { payoutId } = payoutRes.body.payouts[0]
    expect(payoutRes.body.payouts[0]).toMatchObject({ partnerId, currency: 'USD', runId: payoutRes.body.runId })

    // The commission is linked to the payout; partnerd counts it paid when the payout is, which the
    // operator confirms (OpenPartner's POST /payouts/:id/confirm) once the money has moved.
    const linked = await op.ok('GET', `/commissions/${event.commissions[0].id}`)
    expect(linked).toMatchObject({ payoutId, status: 'approved' })
    const confirmed = await op.request('POST', `/payouts/${payoutId}/confirm`)
    expect(confirmed.status).toBe(200)
    expect(confirmed.body.payout).toMatchObject({ payoutId, status: 'paid' })
    const paidCommission = await op.ok('GET', `/commissions/${event.commissions[0].id}`)
    expect(paidCommission.status).toBe('paid')
    expect(paidCommission.payoutId).toBe(payoutId)

    // 10. Dashboard reflects the attributed revenue.
    const dashRes = await op.request('GET', `/partners/${partnerId}/dashboard`)
    expect(dashRes.status).toBe(200)
    expect(dashRes.body.clicks).toBe(1)
    expect(dashRes.body.attributedEvents).toBe(1)
    expect(dashRes.body.attributedRevenue).toBe('200.00') // OpenPartner: 200
    expect(dashRes.body.commissionByStatus.paid).toBe('40.00') // OpenPartner: 40
    expect(dashRes.body).toMatchObject({ partnerId, currency: 'USD', revenue: { USD: '200.00' } })
  })

  it('integration.test.ts › partner key can read own dashboard but not another partner', async () => {
    const op = await tenant()
    const p1 = (await op.request('POST', '/partners', { email: 'a@x.com', name: 'A' })).body.id
    const p2 = (await op.request('POST', '/partners', { email: 'b@x.com', name: 'B' })).body.id

    const keyRes = await op.request('POST', `/partners/${p1}/api-keys`, { label: 'test' })
    expect(keyRes.status).toBe(201)
    expect(keyRes.body).toMatchObject({ id: expect.any(String), plaintext: expect.any(String), partnerId: p1, label: 'test' })
    const partnerKey = keyRes.body.plaintext

    const ownRes = await op.request('GET', `/partners/${p1}/dashboard`, undefined, partnerKey)
    expect(ownRes.status).toBe(200)
    const otherRes = await op.request('GET', `/partners/${p2}/dashboard`, undefined, partnerKey)
    expect(otherRes.status).toBe(403)

    // The same key reads its own /partners/:id/* and nothing of another's, nor any list.
    for (const path of ['', '/commissions', '/payouts', '/api-keys']) {
      expect((await op.request('GET', `/partners/${p1}${path}`, undefined, partnerKey)).status, `own ${path}`).toBe(200)
      expect((await op.request('GET', `/partners/${p2}${path}`, undefined, partnerKey)).status, `other ${path}`).toBe(403)
    }
    expect((await op.request('GET', '/commissions', undefined, partnerKey)).status).toBe(403)
    const listed = await op.request('GET', `/partners/${p1}/api-keys`, undefined, partnerKey)
    expect(listed.body.apiKeys).toEqual([expect.objectContaining({ id: keyRes.body.id, label: 'test', prefix: expect.any(String) })])
    expect(JSON.stringify(listed.body)).not.toContain(partnerKey)
  })

  it('integration.test.ts › scoped key: partners:write allows POST /partners; missing scope denies', async () => {
    const op = await tenant()
    const mintRes = await op.request('POST', '/api-keys/scoped', { scopes: ['partners:write'], label: 'integration-test' })
    expect(mintRes.status).toBe(201)
    const scopedKey = mintRes.body.plaintext as string

    const createRes = await op.request('POST', '/partners', { email: 'scoped@e.com', name: 'Scoped' }, scopedKey)
    expect(createRes.status).toBe(201)
    const partnerId = createRes.body.id

    const deniedRes = await op.request('GET', `/partners/${partnerId}/commissions`, undefined, scopedKey)
    expect(deniedRes.status).toBe(403)
    expect(deniedRes.body.error).toBe('forbidden_scope')
    expect(deniedRes.body.required).toBe('commissions:read') // OpenPartner's grantScope answers the scope it wanted
    // RFC 6750's challenge, partnerd's code before: what OAuth clients read.
    expect(deniedRes.headers.get('www-authenticate')).toMatch(/error="insufficient_scope", scope="commissions:read"/)
  })

  it('integration.test.ts › /auth/introspect surfaces scopes; admin reports unrestricted', async () => {
    const op = await tenant()
    const adminIntro = await op.request('GET', '/auth/introspect')
    expect(adminIntro.status).toBe(200)
    expect(adminIntro.body).toEqual({ role: 'admin', unrestricted: true })

    const scopedMint = await op.request('POST', '/api-keys/scoped', { scopes: ['partners:write', 'links:write'] })
    const scopedIntro = await op.request('GET', '/auth/introspect', undefined, scopedMint.body.plaintext)
    expect(scopedIntro.status).toBe(200)
    expect(scopedIntro.body.role).toBe('scoped')
    expect(scopedIntro.body.scopes).toEqual(['partners:write', 'links:write'])

    // The third role, as the brief of OpenPartner's portal reads it: a partner's key.
    const partner = await op.ok('POST', '/partners', { email: 'intro@x.com', name: 'Intro' })
    const partnerKey = (await op.ok('POST', `/partners/${partner.id}/api-keys`, { label: 'mine' })).plaintext
    expect((await op.request('GET', '/auth/introspect', undefined, partnerKey)).body).toEqual({
      role: 'partner',
      restrictedTo: { partnerId: partner.id },
    })
  })

  it('integration.test.ts › export/import round-trips on selfhost', async () => {
    const op = await tenant()
    const partnerRes = await op.request('POST', '/partners', { email: 'export@example.com', name: 'Export' })

    const exportRes = await op.request('GET', '/export.json')
    expect(exportRes.status).toBe(200)
    expect(exportRes.body.schemaVersion).toBe(2)
    expect(exportRes.body.tables.Partner).toHaveLength(1)

    // Wipe, re-import: partnerd imports into a fresh server (OpenPartner deletes the Partner rows).
    const into = await tenant(await freshServer())
    const importRes = await into.request('POST', '/import', { schemaVersion: 2, tables: exportRes.body.tables })
    expect(importRes.status).toBe(200)
    expect(importRes.body.report.inserted.Partner).toBe(1)

    const restored = await into.request('GET', `/partners/${partnerRes.body.id}`)
    expect(restored.status).toBe(200)
    expect(restored.body.email).toBe('export@example.com')
  })

  // --- export-roundtrip.test.ts -------------------------------------------------------------------

  it('export-roundtrip.test.ts › accepts a v1 bundle — older exports keep working', async () => {
    const op = await tenant(await freshServer())
    const bundle = JSON.parse(BUNDLE)
    // v1 didn't know grants, snapshots or coupons.
    const v1 = { ...bundle.tables }
    delete v1.PartnerProgram
    delete v1.PartnerCommission
    delete v1.Coupon
    const report = await op.request('POST', '/import', { schemaVersion: 1, tables: v1 })
    expect(report.status, JSON.stringify(report.body)).toBe(200)
    expect(report.body.report.inserted.Partner).toBe(3)
    expect(report.body.report.inserted.PartnerProgram).toBeUndefined()
    expect(report.body.report.inserted.Commission).toBe(8)
    // Without grants, the links and commissions still enrol their partners.
    expect((await op.ok('GET', `/partners?programId=${bundle.tables.Program[0].id}`)).partners).toHaveLength(3)

    const unknown = await op.request('POST', '/import', { schemaVersion: 99, tables: {} })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toBe('unsupported_schema_version')
  })

  // --- partner-invite.test.ts ---------------------------------------------------------------------

  it('partner-invite.test.ts › admin invite creates a pending partner; verify activates; resend 409s once activated', async () => {
    const op = await tenant()
    // OpenPartner invites by default; partnerd mails no one unasked, so the request asks (sendInvite).
    const created = await op.request('POST', '/partners', { email: 'gracie@example.com', name: 'Gracie', sendInvite: true })
    expect(created.status).toBe(201)
    expect(created.body.invited).toBe(true)
    expect(created.body.activatedAt).toBeNull()
    expect(created.body).not.toHaveProperty('plaintext')
    expect(created.body).not.toHaveProperty('apiKey')

    await inbox.next('gracie@example.com')
    const resend = await op.request('POST', `/partners/${created.body.id}/invite`)
    expect(resend.status).toBe(202) // OpenPartner: 200 {ok: true}
    expect(resend.body.ok).toBe(true)
    const invite = await inbox.next('gracie@example.com')
    const token = invite.text!.match(/\/auth\/magic\/link#(\S+)/)![1]!

    const verify = await server.call('POST', `${op.base}/auth/magic/verify`, { body: { token } })
    expect(verify.status).toBe(200)
    expect((await verify.json()).organization.role).toBe('partner')
    const activated = await op.ok('GET', `/partners/${created.body.id}`)
    expect(activated.activatedAt).not.toBeNull()

    const after = await op.request('POST', `/partners/${created.body.id}/invite`)
    expect(after.status).toBe(409)
    expect(after.body.error).toBe('already_activated')

    // sendInvite: false is "needs none": active at once, and there is nothing to invite it to.
    const seeded = await op.request('POST', '/partners', { email: 'seeded@example.com', name: 'Seeded', sendInvite: false })
    expect(seeded.body).toMatchObject({ invited: false, activatedAt: expect.any(String) })
    expect((await op.request('POST', `/partners/${seeded.body.id}/invite`)).body.error).toBe('already_activated')
  })

  // --- routes/partners.ts (revoke, reinstate, programIds) --------------------------------------------

  it('routes/partners.ts › revoke and reinstate answer {ok}, 409 already_revoked / not_revoked; programIds grant programs', async () => {
    const op = await tenant()
    const program = await op.program('10')
    const unknown = await op.request('POST', '/partners', { email: 'nope@example.com', name: 'N', programIds: [program.id, 'prg_missing'] })
    expect(unknown.status).toBe(400)
    expect(unknown.body).toMatchObject({ error: 'unknown_campaign_ids', missing: ['prg_missing'] })
    expect((await op.ok('GET', '/partners?email=nope@example.com')).partners).toEqual([]) // nothing written

    const partner = await op.ok('POST', '/partners', { email: 'rev@example.com', name: 'Rev', programIds: [program.id] })
    const enrolled = await op.ok('GET', `/partners?programId=${program.id}`)
    expect(enrolled.partners.map((p: Json) => p.id)).toEqual([partner.id])

    const revoked = await op.request('POST', `/partners/${partner.id}/revoke`, { reason: 'fraud', notify: false })
    expect(revoked.status).toBe(200)
    expect(revoked.body).toMatchObject({ ok: true, revokedAt: expect.any(String), notified: false, status: 'revoked' })
    const again = await op.request('POST', `/partners/${partner.id}/revoke`)
    expect(again.status).toBe(409)
    expect(again.body.error).toBe('already_revoked')

    const reinstated = await op.request('POST', `/partners/${partner.id}/reinstate`)
    expect(reinstated.status).toBe(200)
    expect(reinstated.body).toMatchObject({ ok: true, status: 'active', revokedAt: null })
    const twice = await op.request('POST', `/partners/${partner.id}/reinstate`)
    expect(twice.status).toBe(409)
    expect(twice.body.error).toBe('not_revoked')
  })

  // --- routes/commissions.ts (the review queue's 409s) -------------------------------------------

  it('routes/commissions.ts › approve inside the holdback 409s holdback_active with matureAt and holdbackDays; not_approvable, not_reversible', async () => {
    const op = await tenant()
    const partner = await op.ok('POST', '/partners', { email: 'hold@example.com', name: 'Hold' })
    const program = await op.program('20', { holdbackDays: 30 })
    const link = await op.link(partner.id, program.id)
    await op.visit(link.key, 'holder')
    const { commissions } = await op.sale('holder', '50.00')
    const id = commissions[0].id

    const held = await op.request('POST', `/commissions/${id}/approve`)
    expect(held.status).toBe(409)
    expect(held.body).toMatchObject({ error: 'holdback_active', holdbackDays: 30, matureAt: commissions[0].matureAt })
    expect(typeof held.body.detail).toBe('string')

    const listed = await op.ok('GET', `/partners/${partner.id}/commissions`)
    expect(listed.commissions).toEqual([expect.objectContaining({ id, holdbackDays: 30, matureAt: commissions[0].matureAt })])

    // Reversed, it cannot be approved; reversing it again changes nothing (partnerd keeps retries safe).
    const reversed = await op.request('POST', `/commissions/${id}/reverse`)
    expect(reversed.status).toBe(200)
    expect(reversed.body.commission.status).toBe('reversed')
    const notApprovable = await op.request('POST', `/commissions/${id}/approve`)
    expect(notApprovable.status).toBe(409)
    expect(notApprovable.body.error).toBe('not_approvable')
    expect((await op.request('POST', `/commissions/${id}/reverse`)).body.commission.status).toBe('reversed')

    // A clawback is no commission of its own to reverse: a paid commission refunded.
    const quick = await op.program('20')
    const quickLink = await op.link(partner.id, quick.id)
    await op.visit(quickLink.key, 'refunded')
    const paidSale = await op.sale('refunded', '30.00')
    await op.ok('POST', `/commissions/${paidSale.commissions[0].id}/approve`)
    const run = await op.ok('POST', '/payouts/run')
    await op.ok('POST', `/payouts/${run.payouts[0].payoutId}/confirm`)
    const refund = await op.ok('POST', '/attribution/events', {
      userId: 'refunded',
      type: 'refund',
      externalEventId: `${op.slug}-refund`,
      refundOf: paidSale.externalEventId,
    })
    const clawback = refund.commissions.find((c: Json) => c.kind === 'clawback')
    expect(clawback).toMatchObject({ amount: '-6.00', reversesId: paidSale.commissions[0].id })
    const notReversible = await op.request('POST', `/commissions/${clawback.id}/reverse`)
    expect(notReversible.status).toBe(409)
    expect(notReversible.body.error).toBe('not_reversible')
    expect((await op.request('POST', '/commissions/com_none/reverse')).status).toBe(404)
  })

  // --- routes/api-keys.ts ---------------------------------------------------------------------------

  it('routes/api-keys.ts › POST /api-keys {label} → {id, plaintext}; GET /api-keys?scope=; DELETE /api-keys/:id → {ok}', async () => {
    const op = await tenant()
    const admin = await op.request('POST', '/api-keys', { label: 'rotation' })
    expect(admin.status).toBe(201)
    expect(admin.body).toMatchObject({ id: expect.any(String), plaintext: expect.any(String), scopes: ['*'], label: 'rotation' })
    expect(admin.body.plaintext).toBe(admin.body.key)
    const unnamed = await op.request('POST', '/api-keys', {})
    expect(unnamed.status).toBe(201) // OpenPartner's label is optional

    const crm = await op.ok('POST', '/api-keys/scoped', { scopes: ['events:write', 'partners:read'], label: 'CRM webhook' })
    expect(crm.scopes).toEqual(['events:write', 'partners:read'])
    await op.ok('POST', '/api-keys/scoped', { scopes: ['partners:write'], label: 'other' })
    const listed = await op.ok('GET', '/api-keys?scope=events:write')
    expect(listed.apiKeys.map((k: Json) => k.id)).toEqual([crm.id])
    expect(listed.apiKeys[0]).toMatchObject({ label: 'CRM webhook', scopes: ['events:write', 'partners:read'], revokedAt: null })
    expect((await op.request('GET', '/api-keys?scope=nonsense')).status).toBe(400)

    const gone = await op.request('DELETE', `/api-keys/${crm.id}`)
    expect(gone.status).toBe(200)
    expect(gone.body).toMatchObject({ ok: true, revokedAt: expect.any(String) })
    expect((await op.request('GET', '/auth/introspect', undefined, crm.plaintext)).status).toBe(401)
    expect((await op.request('DELETE', '/api-keys/key_none')).status).toBe(404)
  })

  // --- webhooks.test.ts -----------------------------------------------------------------------------

  it('webhooks.test.ts › dispatches commission.paid to a subscribed endpoint with a valid HMAC signature', async () => {
    const op = await tenant()
    const createRes = await op.request('POST', '/webhooks', { url: receiver.url, events: ['commission.paid'] })
    expect(createRes.status).toBe(201)
    const secret = createRes.body.secret as string
    const endpointId = createRes.body.endpoint.id as string
    expect(createRes.body.endpoint).not.toHaveProperty('secret')

    const partnerId = (await op.request('POST', '/partners', { email: 'wh@e.com', name: 'WH' })).body.id
    const program = await op.program('20')
    const link = await op.link(partnerId, program.id)
    await op.visit(link.key, 'u_wh')
    const { commissions } = await op.sale('u_wh', '100.00')

    // Approve + run payouts (+ confirm: partnerd pays a commission when its payout is paid).
    await op.request('POST', `/commissions/${commissions[0].id}/approve`)
    const run = await op.request('POST', '/payouts/run')
    await op.request('POST', `/payouts/${run.body.payouts[0].payoutId}/confirm`)

    const capture = await until('commission.paid', async () =>
      receiver.received.find((c) => c.headers['x-openpartner-event'] === 'commission.paid' && c.body.includes(partnerId)),
    )
    expect(capture.method).toBe('POST')
    expect(capture.headers['content-type']).toContain('application/json')
    expect(capture.headers['x-openpartner-event']).toBe('commission.paid')
    expect(capture.headers['x-openpartner-delivery']).toMatch(/^evt_/)

    const timestamp = capture.headers['x-openpartner-timestamp']!
    const signature = capture.headers['x-openpartner-signature']!
    const expected = createHmac('sha256', secret).update(`${timestamp}.${capture.body}`).digest('hex')
    expect(signature).toBe(expected)

    const envelope = JSON.parse(capture.body)
    expect(envelope).toMatchObject({ id: capture.headers['x-openpartner-delivery'], event: 'commission.paid', created: expect.any(String) })
    expect(envelope.data.partnerId).toBe(partnerId)
    expect(Number(envelope.data.amount)).toBe(20) // 20% of 100, as the decimal string "20.00"
    expect(envelope.data).toMatchObject({ commissionId: commissions[0].id, amount: '20.00', currency: 'USD', payoutId: expect.any(String) })

    const deliveries = await until('the delivery recorded', async () => {
      const list = (await op.ok('GET', `/webhooks/${endpointId}/deliveries`)).deliveries
      return list.find((d: Json) => d.eventType === 'commission.paid' && d.status === 'delivered') && list
    })
    const paid = deliveries.find((d: Json) => d.eventType === 'commission.paid')
    expect(paid.status).toBe('delivered')
    expect(paid.httpStatus).toBe(200)
  })

  it('webhooks.test.ts › skips endpoints that are inactive or subscribed to other events', async () => {
    const op = await tenant()
    const active = (await op.request('POST', '/webhooks', { url: `${receiver.url}/active`, events: ['commission.approved'] })).body
    const inactive = (
      await op.request('POST', '/webhooks', { url: `${receiver.url}/inactive`, events: ['commission.paid', 'partnership.approved'] })
    ).body
    await op.request('PATCH', `/webhooks/${inactive.endpoint.id}`, { active: false })

    const partner = (await op.request('POST', '/partners', { email: 's@e.com', name: 'S' })).body
    const program = await op.program('10')
    const link = await op.link(partner.id, program.id)
    await op.visit(link.key, 'su_1')
    const { commissions } = await op.sale('su_1', '50.00')

    // attribution.created fired, but neither endpoint subscribed.
    await new Promise((r) => setTimeout(r, 300))
    const ofTenant = (url: string) => receiver.received.filter((c) => c.url.endsWith(url) && c.body.includes(partner.id))
    expect(ofTenant('/active').filter((c) => c.headers['x-openpartner-event'] === 'attribution.created')).toHaveLength(0)

    await op.request('POST', `/commissions/${commissions[0].id}/approve`)
    await until('the approval delivered', async () =>
      (await op.ok('GET', `/webhooks/${active.endpoint.id}/deliveries`)).deliveries.find((d: Json) => d.status === 'delivered'),
    )
    const activeDeliveries = (await op.ok('GET', `/webhooks/${active.endpoint.id}/deliveries`)).deliveries
    expect(activeDeliveries).toHaveLength(1)
    expect(activeDeliveries[0].eventType).toBe('commission.approved')
    expect((await op.ok('GET', `/webhooks/${inactive.endpoint.id}/deliveries`)).deliveries).toHaveLength(0)
  })

  it('webhooks.test.ts › PATCH updates url/events/active; the event list is OpenPartner’s', async () => {
    const op = await tenant()
    const createRes = await op.request('POST', '/webhooks', { url: receiver.url, events: ['commission.paid'], label: 'first' })
    const id = createRes.body.endpoint.id
    const patch = await op.request('PATCH', `/webhooks/${id}`, { events: ['*'], label: 'everything' })
    expect(patch.status).toBe(200)
    expect(patch.body.endpoint.events).toEqual(['*'])
    expect(patch.body.endpoint.label).toBe('everything')
    expect((await op.ok('GET', '/webhooks')).endpoints.map((e: Json) => e.id)).toEqual([id])
    expect((await op.ok('GET', `/webhooks/${id}`)).endpoint).toMatchObject({ id, format: 'openpartner' })

    // routes/webhooks.ts validates the events against its list on create.
    const typo = await op.request('POST', '/webhooks', { url: receiver.url, events: ['commission.payed'] })
    expect(typo.status).toBe(400)
    expect(typo.body.error).toBe('invalid_events')
    // OpenPartner deletes softly (active: false); partnerd deletes the endpoint and its log.
    expect((await op.request('DELETE', `/webhooks/${id}`)).status).toBe(204)
  })

  // --- an OpenPartner export, moved over --------------------------------------------------------------

  it('imports an OpenPartner export bundle whole, and its program keeps running on partnerd', async () => {
    const op = await tenant(await freshServer())
    const bundle = JSON.parse(BUNDLE)
    // A bundle with a row that does not fit is refused whole, naming the row.
    const broken = JSON.parse(BUNDLE)
    broken.tables.Commission[3].amount = 'twelve'
    const refused = await op.request('POST', '/import', broken)
    expect(refused.status).toBe(400)
    expect(refused.body).toMatchObject({ error: 'invalid_export', detail: expect.stringMatching(/^Commission\.3\.amount/) })
    expect((await op.ok('GET', '/partners')).partners).toEqual([])

    const t = bundle.tables
    const [ada, grace, mallory] = t.Partner
    const [creators, newsletter] = t.Program
    // The commission still inside its 30-day holdback: accrued yesterday, whenever this runs.
    const fresh = t.Commission.find((c: Json) => c.status === 'accrued' && c.partnerId === grace.id)
    fresh.accruedAt = new Date(Date.now() - 86_400_000).toISOString()

    const res = await op.request('POST', '/import', bundle)
    expect(res.status, JSON.stringify(res.body)).toBe(200)
    expect(res.body.ok).toBe(true)
    expect(res.body.report.inserted).toMatchObject({
      Partner: 3,
      Program: 2,
      PartnerProgram: 4,
      PartnerCommission: 1,
      Coupon: 1,
      Link: 4,
      Click: 6,
      Identity: 5,
      Event: 7,
      Attribution: 8,
      Commission: 8,
      CommissionAdjustment: 1,
      Payout: 2,
    })
    expect(res.body.report.skipped).toMatchObject({ PortalCustomDomain: 1 })
    expect(res.body.report.notes.join('\n')).toMatch(/stripeConnectAccountId/)

    // export-roundtrip.test.ts › is idempotent — importing the same bundle twice inserts nothing new.
    const second = await op.request('POST', '/import', bundle)
    expect(second.status).toBe(200)
    for (const table of ['Partner', 'Program', 'PartnerProgram', 'Coupon', 'Link', 'Click', 'Event', 'Commission', 'Payout']) {
      expect(second.body.report.inserted[table] ?? 0, `${table} should not re-insert`).toBe(0)
      expect(second.body.report.skipped[table], `${table} should be skipped`).toBe(t[table].length)
    }
    // Its ids are this server's now: another organization here cannot take the same bundle.
    const elsewhere = await (await tenant(op.server)).request('POST', '/import', bundle)
    expect(elsewhere.status).toBe(409)
    expect(elsewhere.body.error).toBe('import_conflict')

    // Partners: emails lower-cased, the revoked one revoked, activation kept.
    const partners = (await op.ok('GET', '/partners')).partners
    expect(partners.map((p: Json) => p.email).sort()).toEqual([
      'ada@creators.example',
      'grace@creators.example',
      'mallory@creators.example',
    ])
    expect(await op.ok('GET', `/partners/${mallory.id}`)).toMatchObject({ status: 'revoked', revokedAt: mallory.revokedAt })
    expect(await op.ok('GET', `/partners/${ada.id}`)).toMatchObject({
      activatedAt: ada.activatedAt,
      metadata: { youtube: '@ada', stripeConnectAccountId: 'acct_1AdaLovelace' },
    })
    expect((await op.ok('GET', `/partners/${grace.id}`)).activatedAt).toBeNull()

    // Programs: OpenPartner's compound rule as partnerd's rules; the legacy single rule too.
    expect(await op.ok('GET', `/programs/${creators.id}`)).toMatchObject({
      currency: 'USD',
      holdbackDays: 30,
      attribution: { windowDays: 60, model: 'linear' },
      deepLinkHosts: ['shop.example.com', 'docs.example.com'],
      rules: [
        { on: 'sale', percent: '20', recurring: { months: 12 } },
        { on: 'signup', amount: '5.00' },
      ],
    })
    // OpenPartner's legacy fixed rule paid every sale; partnerd pays a fixed amount once, so the rule
    // is left out (as POST /programs refuses it) and the report says so.
    expect((await op.ok('GET', `/programs/${newsletter.id}`)).rules).toEqual([])
    expect(res.body.report.notes.join('\n')).toMatch(
      new RegExp(`Program ${newsletter.id} commissionRule.trigger: a fixed amount .*; left out`),
    )

    // Commissions: amounts as they were; the one in a pending payout approved inside it.
    const pendingPayout = t.Payout.find((p: Json) => p.status === 'pending')
    const inPending = t.Commission.find((c: Json) => c.payoutId === pendingPayout.id)
    expect(await op.ok('GET', `/commissions/${inPending.id}`)).toMatchObject({
      amount: '15.00',
      status: 'approved',
      payoutId: pendingPayout.id,
    })
    const adas = (await op.ok('GET', `/partners/${ada.id}/commissions`)).commissions
    expect(adas.filter((c: Json) => c.kind === 'clawback')).toEqual([expect.objectContaining({ amount: '-2.50', status: 'approved' })])
    const held = await op.request('POST', `/commissions/${fresh.id}/approve`)
    expect(held.body).toMatchObject({ error: 'holdback_active', holdbackDays: 30 })

    // Payouts: the paid one with its run; the pending one confirmed pays its commission.
    const payouts = (await op.ok('GET', `/partners/${ada.id}/payouts`)).payouts
    expect(payouts.map((p: Json) => [p.amount, p.status]).sort()).toEqual([
      ['15.00', 'paid'],
      ['15.00', 'pending'],
    ])
    expect(payouts.find((p: Json) => p.status === 'paid').runId).toBe(t.Payout[0].metadata.runId)
    const confirmed = await op.request('POST', `/payouts/${pendingPayout.id}/confirm`)
    expect(confirmed.body.payout).toMatchObject({ status: 'paid' })
    expect((await op.ok('GET', `/commissions/${inPending.id}`)).status).toBe('paid')
    expect((await op.request('POST', `/payouts/${pendingPayout.id}/confirm`)).body.error).toBe('not_confirmable')

    // The dashboard, from the imported clicks, attributions (weights) and commissions.
    const dashboard = await op.ok('GET', `/partners/${ada.id}/dashboard?since=2026-01-01`)
    expect(dashboard).toMatchObject({
      clicks: 4,
      attributedEvents: 5,
      // Half of two 100.00 sales (a linear split with Grace), 49.00 and 60.00 whole.
      attributedRevenue: '209.00',
      currency: 'USD',
      commissionByStatus: { paid: '30.00', approved: '-2.50', accrued: '15.00', reversed: '12.50' },
    })

    // Links keep redirecting, with the cref of the click.
    const adaLink = t.Link.find((l: Json) => l.linkKey === 'ada-yt')
    const redirect = await fetch(`${op.server.url}/r/${op.slug}/${adaLink.linkKey}`, {
      redirect: 'manual',
      headers: { 'user-agent': 'Mozilla/5.0' },
    })
    expect(redirect.status).toBe(302)
    expect(redirect.headers.get('location')).toMatch(/^https:\/\/shop\.example\.com\/pricing\?cref=clk_/)

    // An imported click, not yet identified, is claimed by a new customer, whose sale earns Ada.
    const unclaimed = t.Click.find((c: Json) => !t.Identity.some((i: Json) => i.clickId === c.id))
    await op.ok('POST', '/attribution/identify', { cref: unclaimed.id, userId: 'cust_9' })
    const newcomer = await op.sale('cust_9', '40.00')
    expect(newcomer.attribution.status).toBe('attributed')
    expect(newcomer.commissions).toEqual([expect.objectContaining({ partnerId: ada.id, amount: '10.00' })]) // Ada's snapshot: 25%

    // A customer referred before the move renews: the referral (linear, Ada and Grace) keeps paying.
    const renewal = await op.sale('cust_1', '100.00')
    expect(renewal.attribution.status).toBe('attributed')
    expect(renewal.commissions.map((c: Json) => [c.partnerId, c.amount]).sort()).toEqual(
      [
        [ada.id, '12.50'],
        [grace.id, '10.00'],
      ].sort(),
    )

    // And the tenant exports back in OpenPartner's shape, re-importable as it was.
    const exported = await op.ok('GET', '/export.json')
    expect(exported.schemaVersion).toBe(2)
    expect(exported.tables.Partner).toHaveLength(3)
    const again = await (await tenant(await freshServer())).request('POST', '/import', exported)
    expect(again.status, JSON.stringify(again.body)).toBe(200)
    expect(again.body.report.inserted).toMatchObject({ Partner: 3, Program: 2, Link: 4, Payout: 2 })
  })

  it('refuses a malformed bundle whole, each time with {error, detail}, writing nothing', async () => {
    const op = await tenant()
    const cases: [string, (b: Json) => void, number][] = [
      ['tables not an object', (b) => (b.tables = 'all of them'), 400],
      ['a table not a list', (b) => (b.tables.Partner = {}), 400],
      ['a row not an object', (b) => (b.tables.Partner[0] = 'ada'), 400],
      ['an unknown attribution model', (b) => (b.tables.Program[0].attributionModel = 'time_decay'), 400],
      ['a currency nothing is paid in', (b) => (b.tables.Program[0].currency = 'XXX'), 400],
      ['a percentage over 100', (b) => (b.tables.Program[0].commissionRule = [{ trigger: 'every', type: 'percent', value: 250 }]), 400],
      ['an email that is none', (b) => (b.tables.Partner[0].email = 'ada at home'), 400],
      ['a value in exponent notation', (b) => (b.tables.Event[1].value = '1e5'), 400],
      ['a value past the maximum', (b) => (b.tables.Event[1].value = '99999999999999999999'), 400],
      ['a time that is none', (b) => (b.tables.Click[0].ts = 'yesterday'), 400],
      ['a link to a program not in the bundle', (b) => (b.tables.Link[0].programId = 'nope'), 400],
      ['an unknown commission status', (b) => (b.tables.Commission[0].status = 'paid_twice'), 400],
      ['a negative payout', (b) => (b.tables.Payout[0].amount = -5), 400],
      ['a commission whose attribution is missing', (b) => (b.tables.Commission[0].attributionId = 'gone'), 400],
      ['metadata past its limit', (b) => (b.tables.Partner[0].metadata = { notes: 'x'.repeat(20_000) }), 400],
      ['a NUL in a name', (b) => (b.tables.Partner[0].name = 'Ada\u0000'), 400],
      ['two partners with one email', (b) => (b.tables.Partner[1].email = b.tables.Partner[0].email), 409],
      ['two links with one key', (b) => (b.tables.Link[1].linkKey = b.tables.Link[0].linkKey), 409],
    ]
    for (const [what, breakIt, status] of cases) {
      const bundle = JSON.parse(BUNDLE)
      breakIt(bundle)
      const res = await op.request('POST', '/import', bundle)
      expect({ what, status: res.status }).toEqual({ what, status })
      expect(typeof res.body.error, what).toBe('string')
      expect(typeof res.body.detail, what).toBe('string')
    }
    expect((await op.ok('GET', '/partners')).partners).toEqual([])
    expect((await op.ok('GET', '/programs')).programs).toEqual([])
  })
})
