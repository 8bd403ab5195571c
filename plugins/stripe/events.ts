/**
 * What a Stripe event says, read in one place: the envelope every event has, then, for the four
 * types the receiver uses, the fields it reads, each checked against a schema of Stripe's own
 * shapes (amounts are integers of minor units, currencies three letters, references ids or null).
 * A signed event that does not fit is malformed: the receiver answers 400 naming the field and
 * records nothing, so a sender's bug shows in Stripe's dashboard rather than as a 500, or as a sale
 * of "undefined" in a currency "UNDEFINED". A well-formed event of another type is ignored.
 *
 * The reading turns an event into what partnerd records (or the reason it records nothing), so
 * the route only verifies the signature and records.
 */
import { type Static, Type as T, type TSchema } from '@sinclair/typebox'
import { Value, type ValueError } from '@sinclair/typebox/value'

/** Ids Stripe makes (evt_…, cs_…, pi_…) and the customer ids a site puts in metadata. */
const Id = T.String({ minLength: 1, maxLength: 200 })
const Nullable = <S extends TSchema>(schema: S) => T.Union([T.Null(), schema])
/** A reference Stripe may leave out or set to null (a payment intent, a customer). */
const Ref = T.Optional(Nullable(Id))
/** Stripe's amounts: integers of the currency's minor unit. */
const Amount = T.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
/** Lower case from Stripe (`usd`); whether partnerd pays in it is the core's rule, applied on recording. */
const Currency = T.String({ pattern: '^[A-Za-z]{3}$' })
/** Stripe's metadata: string keys to string values. */
const Metadata = T.Optional(Nullable(T.Record(T.String(), T.String())))

const Envelope = T.Object({
  id: Id,
  type: T.String({ minLength: 1, maxLength: 100 }),
  data: T.Object({ object: T.Object({}) }),
})

const CheckoutSession = T.Object({
  id: Id,
  payment_status: T.String({ maxLength: 50 }),
  // Both null for a session that takes no payment (setup mode).
  amount_total: Nullable(Amount),
  currency: Nullable(Currency),
  client_reference_id: Ref,
  customer: Ref,
  customer_details: T.Optional(Nullable(T.Object({ email: T.Optional(Nullable(T.String({ maxLength: 254 }))) }))),
  payment_intent: Ref,
  metadata: Metadata,
})

const Invoice = T.Object({
  id: Id,
  amount_paid: Amount,
  currency: Currency,
  customer: Ref,
  customer_email: T.Optional(Nullable(T.String({ maxLength: 254 }))),
  payment_intent: Ref,
  metadata: Metadata,
  subscription_details: T.Optional(Nullable(T.Object({ metadata: Metadata }))),
})

const Charge = T.Object({
  id: Id,
  amount_refunded: Amount,
  currency: Currency,
  customer: Ref,
  payment_intent: Ref,
  metadata: Metadata,
  // Newest first, when Stripe includes the list.
  refunds: T.Optional(Nullable(T.Object({ data: T.Array(T.Object({ amount: Amount })) }))),
})

const Dispute = T.Object({
  id: Id,
  amount: Amount,
  currency: Currency,
  charge: Ref,
  payment_intent: Ref,
  metadata: Metadata,
})

/** The types the receiver uses, and the shape of each one's `data.object`. */
const USED = {
  'checkout.session.completed': CheckoutSession,
  'invoice.paid': Invoice,
  'charge.refunded': Charge,
  'charge.dispute.created': Dispute,
} as const

/** What the receiver does with an event. */
export type Reading =
  /** `malformed_body`: not JSON; `malformed_event`: JSON, not of Stripe's shape. */
  | { kind: 'malformed'; code: 'malformed_body' | 'malformed_event'; detail: string }
  | { kind: 'ignored'; reason: string }
  | {
      kind: 'record'
      /** The partnerd event (the input of host.tracking.recordEvent). */
      event: {
        externalEventId: string
        userId: string
        type: 'sale' | 'invoice_paid' | 'refund' | 'chargeback'
        value: string
        currency: string
        customerEmail?: string
        refundOf?: string
        metadata: Record<string, string>
      }
      /** The click a checkout names (metadata.cref), to tie to the customer with the sale. */
      cref?: string
    }

const KINDS: Record<string, string> = { null: 'null', string: 'a string', integer: 'an integer', object: 'an object', array: 'an array' }

/** `body.data.object.currency: expected null or a string`: where, then what. */
function describe(error: ValueError, root: string): string {
  // A union (a nullable object) fails as a whole; when one branch got further (an object with a
  // bad field), its error says where better.
  const inner = (error.errors ?? [])
    .map((branch) => branch.First())
    .filter((e): e is ValueError => e !== undefined)
    .sort((a, b) => b.path.length - a.path.length)[0]
  if (inner && inner.path.length > error.path.length) return describe(inner, root)
  const where = [root, ...error.path.split('/').filter(Boolean)].join('.')
  const branches = (error.schema as { anyOf?: { type?: string }[] }).anyOf
  const what = branches ? `expected ${branches.map((b) => KINDS[b.type ?? ''] ?? 'another value').join(' or ')}` : error.message
  return `${where}: ${what}`
}

function check<S extends TSchema>(schema: S, value: unknown, root: string): { ok: true; value: Static<S> } | { ok: false; detail: string } {
  const error = Value.Errors(schema, value).First()
  return error ? { ok: false, detail: describe(error, root) } : { ok: true, value: value as Static<S> }
}

/** Minor units (Stripe's amounts) to the decimal string the events API takes. */
function decimal(minor: number, currency: string): string {
  const digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2
  const text = String(minor).padStart(digits + 1, '0')
  return digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`
}

/** The sale's id in partnerd: the payment, which refunds and disputes name too. */
const paymentRef = (paymentIntent: string | null | undefined, fallback: string) =>
  paymentIntent ? `stripe:pi:${paymentIntent}` : `stripe:${fallback}`

const malformed = (detail: string): Reading => ({ kind: 'malformed', code: 'malformed_event', detail })

/** Reads a signed payload. Never throws. */
export function readStripeEvent(payload: string): Reading {
  let parsed: unknown
  try {
    parsed = JSON.parse(payload)
  } catch {
    return { kind: 'malformed', code: 'malformed_body', detail: 'the body is not JSON' }
  }
  const envelope = check(Envelope, parsed, 'body')
  if (!envelope.ok) return malformed(envelope.detail)
  const { id, type, data } = envelope.value
  if (!Object.hasOwn(USED, type)) return { kind: 'ignored', reason: `partnerd does not use ${type} events` }
  const root = 'body.data.object'
  const stripeEvent = { stripeEvent: type }

  switch (type as keyof typeof USED) {
    case 'checkout.session.completed': {
      const read = check(CheckoutSession, data.object, root)
      if (!read.ok) return malformed(read.detail)
      const session = read.value
      if (session.payment_status !== 'paid' || !session.amount_total) return { kind: 'ignored', reason: 'the session took no payment' }
      if (!session.currency) return malformed(`${root}.currency: a paid session names its currency`)
      const currency = session.currency.toUpperCase()
      const cref = session.metadata?.cref
      return {
        kind: 'record',
        event: {
          externalEventId: paymentRef(session.payment_intent, `checkout:${session.id}`),
          userId: session.client_reference_id ?? session.metadata?.userId ?? session.customer ?? session.id,
          type: 'sale',
          value: decimal(session.amount_total, currency),
          currency,
          ...(session.customer_details?.email ? { customerEmail: session.customer_details.email } : {}),
          metadata: { ...stripeEvent, stripeSession: session.id },
        },
        ...(cref ? { cref } : {}),
      }
    }
    case 'invoice.paid': {
      const read = check(Invoice, data.object, root)
      if (!read.ok) return malformed(read.detail)
      const invoice = read.value
      if (invoice.amount_paid === 0) return { kind: 'ignored', reason: 'nothing was paid (a trial’s invoice)' }
      const userId = invoice.metadata?.userId ?? invoice.subscription_details?.metadata?.userId ?? invoice.customer
      if (!userId) return malformed(`${root}: names no customer (customer, or metadata.userId)`)
      const currency = invoice.currency.toUpperCase()
      return {
        kind: 'record',
        event: {
          externalEventId: paymentRef(invoice.payment_intent, `invoice:${invoice.id}`),
          userId,
          type: 'invoice_paid',
          value: decimal(invoice.amount_paid, currency),
          currency,
          ...(invoice.customer_email ? { customerEmail: invoice.customer_email } : {}),
          metadata: { ...stripeEvent, stripeInvoice: invoice.id },
        },
      }
    }
    case 'charge.refunded': {
      const read = check(Charge, data.object, root)
      if (!read.ok) return malformed(read.detail)
      const charge = read.value
      const currency = charge.currency.toUpperCase()
      return {
        kind: 'record',
        event: {
          externalEventId: `stripe:${id}`,
          userId: charge.metadata?.userId ?? charge.customer ?? charge.id,
          type: 'refund',
          // The latest refund, when Stripe lists them; else what the charge has had refunded.
          value: decimal(charge.refunds?.data[0]?.amount ?? charge.amount_refunded, currency),
          currency,
          refundOf: paymentRef(charge.payment_intent, `charge:${charge.id}`),
          metadata: stripeEvent,
        },
      }
    }
    case 'charge.dispute.created': {
      const read = check(Dispute, data.object, root)
      if (!read.ok) return malformed(read.detail)
      const dispute = read.value
      const currency = dispute.currency.toUpperCase()
      return {
        kind: 'record',
        event: {
          externalEventId: `stripe:${id}`,
          userId: dispute.metadata?.userId ?? dispute.id,
          type: 'chargeback',
          value: decimal(dispute.amount, currency),
          currency,
          refundOf: paymentRef(dispute.payment_intent, `charge:${dispute.charge ?? dispute.id}`),
          metadata: stripeEvent,
        },
      }
    }
  }
}
