/**
 * Webhooks in OpenPartner's format, for endpoints made with `format: openpartner`: its event names,
 * its body `{id: "evt_…", event, created, data}` with the fields its dispatcher put in `data`
 * (`commissionId`, `payoutId`, `attributionId`…, beside partnerd's own), one message per attribution
 * touch as it has one Attribution row per touch. The headers are in signing.ts; which deliveries an
 * event makes, in outbox.ts.
 */
import { attributionIdOf } from '../attribution/attribution-ids.ts'
import { CORE_EVENTS } from '../domain-events/catalogue.ts'
import { AppError } from '../errors.ts'

/** The events OpenPartner's endpoints subscribe to (its KNOWN_EVENTS), `*` aside. */
export const OPENPARTNER_EVENTS = [
  'attribution.created',
  'commission.accrued',
  'commission.approved',
  'commission.paid',
  'commission.reversed',
  'partner.created',
  'partner.activated',
  'partnership.approved',
  'payout.created',
] as const

/**
 * partnerd's events whose name means something else to OpenPartner. OpenPartner's partner.activated
 * is a partner accepting its invitation (partnerd's partner.accepted); partnerd's partner.activated,
 * a revoked partner reinstated, goes to these endpoints as partner.reinstated. Every other event
 * keeps its name.
 */
const RENAMED: Record<string, string> = {
  'partner.accepted': 'partner.activated',
  'partner.activated': 'partner.reinstated',
}

/** The name an OpenPartner-format endpoint knows an event by. */
export function openPartnerName(type: string): string {
  return RENAMED[type] ?? type
}

/**
 * The events an OpenPartner-format endpoint may subscribe to: OpenPartner's (partnership.approved is
 * accepted and never sent: partnerd has no partner network), and partnerd's own under the names
 * these endpoints get them by. Anything else is a typo that would never fire: 400.
 */
export function checkOpenPartnerEvents(events: readonly string[]): void {
  const known = new Set<string>([...OPENPARTNER_EVENTS, ...Object.keys(CORE_EVENTS).map(openPartnerName), '*'])
  const unknown = events.filter((e) => !known.has(e))
  if (unknown.length > 0) {
    throw new AppError(400, 'invalid_events', `events: ${unknown.join(', ')} is not an event OpenPartner-format endpoints receive`)
  }
}

export interface OpenPartnerMessage {
  event: string
  data: unknown
}

type Fields = Record<string, unknown>

/** What one domain event says to an OpenPartner-format endpoint: usually one message, one per touch for an attribution. */
export function openPartnerMessages(type: string, data: unknown): OpenPartnerMessage[] {
  const event = openPartnerName(type)
  const fields = (data ?? {}) as Fields
  if (type === 'attribution.created') {
    const { eventId, userId, model, touches } = fields as { eventId: string; userId: string; model: string; touches: Fields[] }
    return touches.map((touch) => ({
      event,
      data: {
        attributionId: attributionIdOf(eventId, String(touch.clickId)),
        eventId,
        userId,
        model,
        ...touch,
        campaignId: touch.programId,
      },
    }))
  }
  if (type.startsWith('commission.')) {
    const { id, eventId, clickId } = fields as { id: string; eventId: string; clickId: string | null }
    return [{ event, data: { commissionId: id, attributionId: clickId ? attributionIdOf(eventId, clickId) : null, ...fields } }]
  }
  if (type.startsWith('partner.')) return [{ event, data: { partnerId: fields.id, ...fields } }]
  return [{ event, data }]
}

/** The body OpenPartner's dispatcher sends: its envelope, `id` being the delivery's (`evt_…`). */
export function openPartnerBody(id: string, message: OpenPartnerMessage, created: string): string {
  return JSON.stringify({ id, event: message.event, created, data: message.data })
}
