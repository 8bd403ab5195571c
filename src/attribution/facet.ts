/**
 * What integration plugins (Stripe, CRMs, Zapier actions) get to feed the program: record a
 * conversion event and tie a click to a customer, with the same rules, idempotency and answers as
 * POST /attribution/events and /attribution/identify.
 */
import { againOnUniqueViolation } from '../db/errors.ts'
import type { WithTenant } from '../db/with-tenant.ts'
import { type EventInput, type EventResult, recordEvent } from './events.ts'
import { type IdentifyResult, identify } from './identify.ts'

export interface TrackingFacet {
  /** `replayed` when the externalEventId was known (the stored result is answered). */
  recordEvent(tenantId: string, input: EventInput): Promise<{ result: EventResult; replayed: boolean }>
  /** Several events in one transaction: all recorded, or (on any refusal) none. */
  recordEvents(tenantId: string, inputs: EventInput[]): Promise<{ result: EventResult; replayed: boolean }[]>
  identify(tenantId: string, input: { cref: string; userId: string }): Promise<IdentifyResult>
}

export function trackingFacet(withTenant: WithTenant): TrackingFacet {
  return {
    recordEvent: (tenantId, input) => againOnUniqueViolation(() => withTenant(tenantId, (scope) => recordEvent(scope, input))),
    recordEvents: (tenantId, inputs) =>
      againOnUniqueViolation(() =>
        withTenant(tenantId, async (scope) => {
          const outcomes = []
          for (const input of inputs) outcomes.push(await recordEvent(scope, input))
          return outcomes
        }),
      ),
    identify: (tenantId, input) => withTenant(tenantId, (scope) => identify(scope, { ...input, ipHash: null })),
  }
}
