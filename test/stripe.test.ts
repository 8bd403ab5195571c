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
    const payload = JSON.stringify(event)
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

  it('is off unless configured: the route is 404', async () => {
    const plain = await startTestServer(dialect)
    try {
      expect((await plain.call('POST', '/api/integrations/stripe/webhook', { body: {} })).status).toBe(404)
    } finally {
      await plain.stop()
    }
  })
})
