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
 * record nothing; a signed event that is malformed (not JSON, no data.object, an amount that is no
 * integer, no currency: events.ts reads them) is 400 naming the field and records nothing; events of
 * other types, and paid-nothing ones (a trial's zero invoice), are acknowledged (200) and ignored.
 *
 *   plugins:
 *     - builtin: stripe
 *       config:
 *         webhook_secret: ${STRIPE_WEBHOOK_SECRET}   # whsec_… from the Stripe dashboard
 *         tolerance_seconds: 300
 */
import type { PluginDefinition } from '../../src/plugins/contract.ts'
import { readStripeEvent } from './events.ts'
import { verifyStripeSignature } from './signature.ts'

interface StripeConfig {
  webhook_secret: string
  tolerance_seconds: number
}

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
          const reading = readStripeEvent(payload)
          if (reading.kind === 'malformed') throw new host.AppError(400, reading.code, reading.detail)
          if (reading.kind === 'ignored') {
            host.log.debug({ reason: reading.reason }, 'stripe: event ignored')
            return { received: true, recorded: false, ignored: reading.reason }
          }
          // The signature proves the request: the plugin records as itself, for the tenant. A
          // checkout's click is tied in the sale's own transaction: a refused sale ties nothing.
          const { result, identifyRefused } = await host.tracking.recordEvent(
            host.asPlugin(tenant),
            reading.event,
            reading.cref ? { identifyCref: reading.cref } : {},
          )
          if (identifyRefused) host.log.warn({ err: identifyRefused.message, cref: reading.cref }, 'stripe: cref not identified')
          return { received: true, recorded: true, eventId: result.eventId }
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
