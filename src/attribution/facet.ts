/**
 * What integration plugins (Stripe, CRMs, Zapier actions) get to feed the program: record a
 * conversion event and tie a click to a customer, with the same rules, idempotency and answers as
 * POST /attribution/events and /attribution/identify. Every call names its caller: the facet checks
 * the scope (events:write) and applies a program-bound key's program, as the tracking API does, so
 * a plugin route cannot forget either.
 */
import { authorize } from '../auth/guard.ts'
import type { Caller } from '../auth/principal.ts'
import { againOnUniqueViolation } from '../db/errors.ts'
import type { WithTenant } from '../db/with-tenant.ts'
import { type EventInput, type EventResult, recordEvent } from './events.ts'
import { type IdentifyResult, identify } from './identify.ts'

export interface TrackingFacet {
  /** `replayed` when the externalEventId was known (the stored result is answered). */
  recordEvent(caller: Caller, input: EventInput): Promise<{ result: EventResult; replayed: boolean }>
  /** Several events in one transaction: all recorded, or (on any refusal) none. */
  recordEvents(caller: Caller, inputs: EventInput[]): Promise<{ result: EventResult; replayed: boolean }[]>
  identify(caller: Caller, input: { cref: string; userId: string }): Promise<IdentifyResult>
}

const write = { scopes: ['events:write' as const] }

export function trackingFacet(withTenant: WithTenant): TrackingFacet {
  const recordAll = ({ tenant, principal }: Caller, inputs: EventInput[]) => {
    authorize(principal, write, tenant)
    return againOnUniqueViolation(() =>
      withTenant(tenant.id, async (scope) => {
        const outcomes = []
        for (const input of inputs) outcomes.push(await recordEvent(scope, input, new Date(), principal.programId))
        return outcomes
      }),
    )
  }
  return {
    recordEvent: async (caller, input) => (await recordAll(caller, [input]))[0]!,
    recordEvents: recordAll,
    identify: ({ tenant, principal }, input) => {
      authorize(principal, write, tenant)
      return withTenant(tenant.id, (scope) => identify(scope, { ...input, ipHash: null }))
    },
  }
}
