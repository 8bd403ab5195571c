/**
 * The stripe plugin with Stripe's own signing helper (the `stripe` package) and Stripe's event shapes:
 * a paid checkout carrying the click id becomes an attributed sale, paid invoices earn recurring
 * commissions (a trial's zero invoice does not), a refund reverses, and bad or stale signatures are 401.
 */
import Stripe from 'stripe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const SECRET = 'whsec_test_partnerd_stripe_secret'
const stripe = new Stripe('sk_test_not_used')

function stripeEvent(id: string, type: string, object: Record<string, unknown>) {
  return { id, object: 'event', api_version: '2024-06-20', created: Math.floor(Date.now() / 1000), livemode: false, type, data: { object } }
}

describe.each(DIALECTS)('stripe webhooks on %s', (dialect) => {
  let server: TestServer
  const send = async (event: unknown, options: { secret?: string; timestamp?: number } = {}) => {
    const payload = typeof event === 'string' ? event : JSON.stringify(event)
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret: options.secret ?? SECRET, timestamp: options.timestamp })
    const res = await fetch(`${server.url}/api/integrations/stripe/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': header },
      body: payload,
    })
    return { status: res.status, body: await res.json() }
  }
  const api = async (method: string, path: string, body?: unknown) =>
    (await server.call(method, `/api${path}`, { key: server.adminKey, body })).json()

  beforeAll(async () => {
    server = await startTestServer(dialect, { plugins: [{ builtin: 'stripe', config: { webhook_secret: SECRET } }] })
  })
  afterAll(() => server.stop())

  it('turns checkouts, invoices and refunds into sales, recurring commissions and reversals', async () => {
    const program = await api('POST', '/programs', {
      name: 'SaaS',
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://app.example.com/',
      holdbackDays: 0,
      rules: [{ on: 'sale', percent: '20', recurring: { lifetime: true } }],
    })
    const partner = await api('POST', '/partners', { email: 'stripe@partners.example' })
    const link = await api('POST', '/links', { partnerId: partner.id, programId: program.id })
    const click = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
    const cref = new URL(click.headers.get('location')!).searchParams.get('cref')

    const checkout = stripeEvent('evt_checkout_1', 'checkout.session.completed', {
      id: 'cs_test_1',
      object: 'checkout.session',
      mode: 'payment',
      payment_status: 'paid',
      amount_total: 5000,
      currency: 'usd',
      client_reference_id: 'user-9',
      customer: 'cus_1',
      customer_details: { email: 'buyer@example.com' },
      payment_intent: 'pi_1',
      metadata: { cref },
    })
    const first = await send(checkout)
    expect(first.status, JSON.stringify(first.body)).toBe(200)
    expect(first.body).toMatchObject({ received: true, recorded: true })
    const again = await send(checkout)
    expect(again.body.eventId).toBe(first.body.eventId) // Stripe retries: recorded once

    const trial = await send(
      stripeEvent('evt_invoice_trial', 'invoice.paid', {
        id: 'in_trial',
        object: 'invoice',
        amount_paid: 0,
        currency: 'usd',
        customer: 'cus_1',
        metadata: { userId: 'user-9' },
      }),
    )
    expect(trial.body).toMatchObject({ recorded: false })
    const renewal = await send(
      stripeEvent('evt_invoice_2', 'invoice.paid', {
        id: 'in_2',
        object: 'invoice',
        amount_paid: 2000,
        currency: 'usd',
        customer: 'cus_1',
        payment_intent: 'pi_2',
        metadata: { userId: 'user-9' },
      }),
    )
    expect(renewal.body.recorded).toBe(true)

    const commissions = (await api('GET', `/partners/${partner.id}/commissions`)).commissions as {
      amount: string
      status: string
      eventId: string
    }[]
    expect(commissions.map((c) => c.amount).sort()).toEqual(['10.00', '4.00'])

    const refund = await send(
      stripeEvent('evt_refund_1', 'charge.refunded', {
        id: 'ch_1',
        object: 'charge',
        amount: 5000,
        amount_refunded: 5000,
        currency: 'usd',
        customer: 'cus_1',
        payment_intent: 'pi_1',
        refunds: { object: 'list', data: [{ id: 're_1', amount: 5000 }] },
      }),
    )
    expect(refund.status, JSON.stringify(refund.body)).toBe(200)
    const after = (await api('GET', `/partners/${partner.id}/commissions?status=reversed`)).commissions
    expect(after).toEqual([expect.objectContaining({ amount: '10.00', eventId: first.body.eventId })])

    // A dispute names the charge's payment, not the customer: it still finds the renewal's sale.
    const dispute = await send(
      stripeEvent('evt_dispute_1', 'charge.dispute.created', {
        id: 'dp_1',
        object: 'dispute',
        amount: 2000,
        currency: 'usd',
        charge: 'ch_2',
        payment_intent: 'pi_2',
        reason: 'fraudulent',
      }),
    )
    expect(dispute.status, JSON.stringify(dispute.body)).toBe(200)
    const reversed = (await api('GET', `/partners/${partner.id}/commissions?status=reversed`)).commissions
    expect(reversed.map((c: { amount: string }) => c.amount).sort()).toEqual(['10.00', '4.00'])
  })

  it('refuses bad and stale signatures, recording nothing', async () => {
    const event = stripeEvent('evt_forged', 'invoice.paid', { id: 'in_x', amount_paid: 100, currency: 'usd', customer: 'cus_x' })
    expect((await send(event, { secret: 'whsec_someone_else' })).status).toBe(401)
    expect((await send(event, { timestamp: Math.floor(Date.now() / 1000) - 3600 })).status).toBe(401)
    const unsigned = await fetch(`${server.url}/api/integrations/stripe/webhook`, { method: 'POST', body: JSON.stringify(event) })
    expect(unsigned.status).toBe(401)
    expect((await send(stripeEvent('evt_other', 'customer.created', { id: 'cus_2' }))).body).toMatchObject({ recorded: false })
  })

  it('answers signed but malformed events 400 naming the field, and records nothing', async () => {
    const tenant = await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()
    const stored = () =>
      server.runtime.withTenant(tenant.id, async (scope) => ({
        events: (await scope.db.selectFrom('events').select('id').where('tenant_id', '=', tenant.id).execute()).length,
        identities: (await scope.db.selectFrom('identities').select('click_id').where('tenant_id', '=', tenant.id).execute()).length,
      }))
    const program = await api('POST', '/programs', {
      name: 'Malformed',
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://malformed.example.com/',
      holdbackDays: 0,
      rules: [{ on: 'sale', percent: '10' }],
    })
    const partner = await api('POST', '/partners', { email: 'malformed@partners.example' })
    const link = await api('POST', '/links', { partnerId: partner.id, programId: program.id })
    const click = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0' } })
    const cref = new URL(click.headers.get('location')!).searchParams.get('cref')!
    const invoice = { id: 'in_bad', object: 'invoice', amount_paid: 1500, currency: 'usd', customer: 'cus_bad' }
    const checkout = {
      id: 'cs_bad',
      object: 'checkout.session',
      payment_status: 'paid',
      amount_total: 5000,
      currency: 'usd',
      client_reference_id: 'user-bad',
      payment_intent: 'pi_bad',
      metadata: { cref },
    }
    const { currency: _currency, ...invoiceWithoutCurrency } = invoice
    const before = await stored()

    const cases: [string, unknown, string, RegExp][] = [
      ['body null', null, 'malformed_event', /^body: /],
      ['body an array', [], 'malformed_event', /^body: /],
      ['body a number', 42, 'malformed_event', /^body: /],
      ['not JSON', '{"id":', 'malformed_body', /not JSON/],
      ['type missing', { id: 'evt_m1', data: { object: invoice } }, 'malformed_event', /body\.type/],
      ['type not a string', { id: 'evt_m2', type: 7, data: { object: invoice } }, 'malformed_event', /body\.type/],
      ['id missing', { type: 'invoice.paid', data: { object: invoice } }, 'malformed_event', /body\.id/],
      ['data null', { id: 'evt_m3', type: 'charge.dispute.created', data: null }, 'malformed_event', /body\.data/],
      ['data.object missing', { id: 'evt_m4', type: 'invoice.paid', data: {} }, 'malformed_event', /body\.data\.object/],
      ['data.object an array', { id: 'evt_m5', type: 'customer.created', data: { object: [] } }, 'malformed_event', /body\.data\.object/],
      [
        'invoice without currency',
        stripeEvent('evt_m6', 'invoice.paid', invoiceWithoutCurrency),
        'malformed_event',
        /data\.object\.currency/,
      ],
      [
        'currency not three letters',
        stripeEvent('evt_m7', 'invoice.paid', { ...invoice, currency: 'us dollars' }),
        'malformed_event',
        /data\.object\.currency/,
      ],
      [
        'amount a string',
        stripeEvent('evt_m8', 'invoice.paid', { ...invoice, amount_paid: '1500' }),
        'malformed_event',
        /data\.object\.amount_paid/,
      ],
      [
        'amount fractional',
        stripeEvent('evt_m9', 'invoice.paid', { ...invoice, amount_paid: 15.5 }),
        'malformed_event',
        /data\.object\.amount_paid/,
      ],
      [
        'amount negative',
        stripeEvent('evt_m10', 'invoice.paid', { ...invoice, amount_paid: -1500 }),
        'malformed_event',
        /data\.object\.amount_paid/,
      ],
      ['invoice naming no customer', stripeEvent('evt_m11', 'invoice.paid', { ...invoice, customer: null }), 'malformed_event', /customer/],
      [
        'metadata not strings',
        stripeEvent('evt_m12', 'invoice.paid', { ...invoice, metadata: { userId: 9 } }),
        'malformed_event',
        /metadata\.userId/,
      ],
      [
        'dispute without amount',
        stripeEvent('evt_m13', 'charge.dispute.created', { id: 'dp_bad', currency: 'usd', charge: 'ch_bad' }),
        'malformed_event',
        /data\.object\.amount/,
      ],
      [
        'dispute amount null',
        stripeEvent('evt_m14', 'charge.dispute.created', { id: 'dp_bad', amount: null, currency: 'usd' }),
        'malformed_event',
        /data\.object\.amount/,
      ],
      [
        'refund amount a string',
        stripeEvent('evt_m15', 'charge.refunded', { id: 'ch_bad', amount_refunded: '5', currency: 'usd' }),
        'malformed_event',
        /amount_refunded/,
      ],
      [
        'refund list of non-objects',
        stripeEvent('evt_m16', 'charge.refunded', { id: 'ch_bad', amount_refunded: 5, currency: 'usd', refunds: { data: [1] } }),
        'malformed_event',
        /refunds\.data\.0/,
      ],
      [
        'paid checkout without currency',
        stripeEvent('evt_m17', 'checkout.session.completed', { ...checkout, currency: null }),
        'malformed_event',
        /data\.object\.currency/,
      ],
      [
        'checkout amount a string',
        stripeEvent('evt_m18', 'checkout.session.completed', { ...checkout, amount_total: '5000' }),
        'malformed_event',
        /amount_total/,
      ],
      // Well-formed, but in a currency partnerd cannot pay: refused by the core, and the click it names stays unclaimed.
      [
        'checkout in XXX',
        stripeEvent('evt_m19', 'checkout.session.completed', { ...checkout, currency: 'xxx' }),
        'unknown_currency',
        /XXX/,
      ],
    ]
    for (const [name, event, error, detail] of cases) {
      const res = await send(event)
      expect({ name, status: res.status, error: res.body.error }).toEqual({ name, status: 400, error })
      expect(res.body.detail, name).toMatch(detail)
    }
    expect(await stored()).toEqual(before)

    // Well-formed events the receiver does not use, or that paid nothing, are acknowledged and ignored.
    for (const event of [
      stripeEvent('evt_i1', 'customer.created', { id: 'cus_new' }),
      stripeEvent('evt_i2', 'payment_intent.created', { id: 'pi_new', amount: 'whatever' }),
      stripeEvent('evt_i3', 'checkout.session.completed', { ...checkout, payment_status: 'unpaid' }),
      stripeEvent('evt_i4', 'checkout.session.completed', {
        ...checkout,
        mode: 'setup',
        payment_status: 'no_payment_required',
        amount_total: null,
        currency: null,
      }),
    ]) {
      const res = await send(event)
      expect(res.status, JSON.stringify(res.body)).toBe(200)
      expect(res.body).toMatchObject({ received: true, recorded: false, ignored: expect.any(String) })
    }
    expect(await stored()).toEqual(before)

    // The same checkout, well-formed: the sale and its click's tie are recorded together.
    const good = await send(stripeEvent('evt_m20', 'checkout.session.completed', checkout))
    expect(good.status, JSON.stringify(good.body)).toBe(200)
    expect(await stored()).toEqual({ events: before.events + 1, identities: before.identities + 1 })
    const commissions = (await api('GET', `/partners/${partner.id}/commissions`)).commissions as { amount: string }[]
    expect(commissions.map((c) => c.amount)).toEqual(['5.00'])
  })

  it('is off unless configured: the route is 404', async () => {
    const plain = await startTestServer(dialect)
    try {
      expect((await plain.call('POST', '/api/integrations/stripe/webhook', { body: {} })).status).toBe(404)
    } finally {
      await plain.stop()
    }
  })
})
