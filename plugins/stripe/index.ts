/**
 * stripe: Stripe's webhooks in, conversion events out. Point a Stripe webhook endpoint at
 * `<public_url>/api/integrations/stripe/webhook` (`/api/t/<slug>/…` in multi mode) with the events
 * below, and give its signing secret here.
 *
 * - `checkout.session.completed` (paid): a sale. The customer is `client_reference_id`, else
 *   `metadata.userId`, else the Stripe customer id; `metadata.cref` (the click id your site kept, see
 *   /sdk.js) is identified first, so the sale is attributed even without a prior identify.
 * - `invoice.paid`: a sale per paid invoice, so subscriptions earn recurring commissions; the first
 *   invoice paid after a trial is the first sale (a trial's zero invoice is skipped).
 * - `charge.refunded`: a refund of the latest refund's amount; `charge.dispute.created`: a chargeback.
 *   Both name the payment, which the sale recorded, so they reverse or claw back what it earned.
 *
 * Each Stripe event is recorded once (its id is the externalEventId). Bad signatures are 401 and
 * record nothing; events of other types are acknowledged and ignored.
 *
 *   plugins:
 *     - builtin: stripe
 *       config:
 *         webhook_secret: ${STRIPE_WEBHOOK_SECRET}   # whsec_… from the Stripe dashboard
 *         tolerance_seconds: 300
 */
import type { PluginDefinition } from '../../src/plugins/contract.ts'
import { verifyStripeSignature } from './signature.ts'

interface StripeConfig {
  webhook_secret: string
  tolerance_seconds: number
}

type StripeObject = Record<string, any>

/** Minor units (Stripe's amounts) to the decimal string the events API takes. */
function decimal(minor: number, currency: string): string {
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2
  const text = String(Math.abs(minor)).padStart(digits + 1, '0')
  return digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`
}

/** The sale's id in partnerd: the payment, which refunds and disputes name too. */
const paymentRef = (paymentIntent: unknown, fallback: string) =>
  typeof paymentIntent === 'string' ? `stripe:pi:${paymentIntent}` : `stripe:${fallback}`

const stripe: PluginDefinition = {
  name: 'stripe',
  version: '1.0.0',
  config: (t) =>
    t.Object(
      {
        webhook_secret: t.String({ pattern: '^whsec_', description: "The Stripe endpoint's signing secret." }),
        tolerance_seconds: t.Integer({ default: 300, minimum: 1, description: 'How old a signed request may be.' }),
      },
      { additionalProperties: false },
    ),

  setup(host) {
    const cfg = host.config as StripeConfig

    host.routes((api) =>
      api.post(
        '/integrations/stripe/webhook',
        async ({ body, request, tenant }) => {
          const payload = body as unknown as string
          if (!verifyStripeSignature(payload, request.headers.get('stripe-signature'), cfg.webhook_secret, cfg.tolerance_seconds)) {
            throw new host.AppError(401, 'invalid_signature', 'the Stripe-Signature header does not match this payload')
          }
          let event: { id: string; type: string; data: { object: StripeObject } }
          try {
            event = JSON.parse(payload)
          } catch {
            throw new host.AppError(400, 'malformed_body', 'the body is not JSON')
          }
          const object = event.data?.object ?? {}
          // The signature proves the request: the plugin records as itself, for the tenant.
          const stripe = host.asPlugin(tenant)
          const record = (input: Record<string, unknown>) =>
            host.tracking.recordEvent(stripe, {
              externalEventId: `stripe:${event.id}`,
              metadata: { stripeEvent: event.type },
              ...input,
            } as never)
          switch (event.type) {
            case 'checkout.session.completed': {
              if (object.payment_status !== 'paid' || !object.amount_total) return { received: true, recorded: false }
              const userId = String(object.client_reference_id ?? object.metadata?.userId ?? object.customer ?? object.id)
              const cref = object.metadata?.cref
              if (typeof cref === 'string' && cref) {
                await host.tracking
                  .identify(stripe, { cref, userId })
                  .catch((err) => host.log.warn({ err: err.message, cref }, 'stripe: cref not identified'))
              }
              const currency = String(object.currency).toUpperCase()
              const { result } = await host.tracking.recordEvent(stripe, {
                externalEventId: paymentRef(object.payment_intent, `checkout:${object.id}`),
                userId,
                type: 'sale',
                value: decimal(object.amount_total, currency),
                currency,
                customerEmail: object.customer_details?.email ?? undefined,
                metadata: { stripeEvent: event.type, stripeSession: object.id },
              })
              return { received: true, recorded: true, eventId: result.eventId }
            }
            case 'invoice.paid': {
              if (!object.amount_paid) return { received: true, recorded: false } // a trial's zero invoice
              const currency = String(object.currency).toUpperCase()
              const userId = String(object.metadata?.userId ?? object.subscription_details?.metadata?.userId ?? object.customer)
              const { result } = await host.tracking.recordEvent(stripe, {
                externalEventId: paymentRef(object.payment_intent, `invoice:${object.id}`),
                userId,
                type: 'invoice_paid',
                value: decimal(object.amount_paid, currency),
                currency,
                customerEmail: object.customer_email ?? undefined,
                metadata: { stripeEvent: event.type, stripeInvoice: object.id },
              })
              return { received: true, recorded: true, eventId: result.eventId }
            }
            case 'charge.refunded':
            case 'charge.dispute.created': {
              const dispute = event.type === 'charge.dispute.created'
              const amount = dispute ? object.amount : (object.refunds?.data?.[0]?.amount ?? object.amount_refunded)
              const currency = String(object.currency).toUpperCase()
              const { result } = await record({
                userId: String(object.metadata?.userId ?? object.customer ?? object.id),
                type: dispute ? 'chargeback' : 'refund',
                value: decimal(amount, currency),
                currency,
                refundOf: paymentRef(object.payment_intent, `charge:${object.charge ?? object.id}`),
              })
              return { received: true, recorded: true, eventId: result.eventId }
            }
            default:
              return { received: true, recorded: false }
          }
        },
        {
          parse: ({ request }) => request.text(),
          detail: {
            tags: ['Integrations'],
            summary: 'Stripe webhooks: paid checkouts and invoices are sales; refunds and disputes reverse them',
          },
        },
      ),
    )
  },
}

export default stripe
