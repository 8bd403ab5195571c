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
import type { TenantScope, WithTenant } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import type { ProgramTermsCache } from '../programs/terms.ts'
import { type EventInput, type EventResult, recordEvent } from './events.ts'
import { type IdentifyResult, identify } from './identify.ts'

export interface RecordOptions {
  /**
   * A click to tie to the event's customer first, in the same transaction (a paid checkout that
   * names the click it came from): the event is attributed to it, and an event refused ties
   * nothing. A tie that cannot be made (an unknown click, another customer's) does not stop the
   * event; it is answered in `identifyRefused`.
   */
  identifyCref?: string
}

export interface TrackingFacet {
  /** `replayed` when the externalEventId was known (the stored result is answered). */
  recordEvent(
    caller: Caller,
    input: EventInput,
    options?: RecordOptions,
  ): Promise<{ result: EventResult; replayed: boolean; identifyRefused?: AppError }>
  /** Several events in one transaction: all recorded, or (on any refusal) none. */
  recordEvents(caller: Caller, inputs: EventInput[]): Promise<{ result: EventResult; replayed: boolean }[]>
  identify(caller: Caller, input: { cref: string; userId: string }): Promise<IdentifyResult>
}

const write = { scopes: ['events:write' as const] }
/** What identify answers for a click it will not tie: unknown, or another customer's. */
const IDENTIFY_REFUSALS = new Set(['click_not_found', 'cref_claimed'])

/** Ties the click to the customer, answering (not throwing) identify's refusals. */
async function tie(scope: TenantScope, cref: string, userId: string): Promise<AppError | undefined> {
  try {
    await identify(scope, { cref, userId, ipHash: null })
    return undefined
  } catch (err) {
    // These two refusals come from reads only, so the transaction is still good for the event;
    // anything else (a failed write) is thrown on and takes the whole call back.
    if (err instanceof AppError && IDENTIFY_REFUSALS.has(err.code)) return err
    throw err
  }
}

export function trackingFacet(withTenant: WithTenant, programs?: ProgramTermsCache): TrackingFacet {
  const record = ({ tenant, principal }: Caller, inputs: EventInput[], identifyCref?: string) => {
    authorize(principal, write, tenant)
    return againOnUniqueViolation(() =>
      withTenant(tenant.id, async (scope) => {
        const identifyRefused = identifyCref === undefined ? undefined : await tie(scope, identifyCref, inputs[0]!.userId)
        const outcomes = []
        for (const input of inputs) outcomes.push(await recordEvent(scope, input, new Date(), principal.programId, programs))
        return { outcomes, identifyRefused }
      }),
    )
  }
  return {
    recordEvent: async (caller, input, options = {}) => {
      const { outcomes, identifyRefused } = await record(caller, [input], options.identifyCref)
      return { ...outcomes[0]!, ...(identifyRefused ? { identifyRefused } : {}) }
    },
    recordEvents: async (caller, inputs) => (await record(caller, inputs)).outcomes,
    identify: ({ tenant, principal }, input) => {
      authorize(principal, write, tenant)
      return withTenant(tenant.id, (scope) => identify(scope, { ...input, ipHash: null }))
    },
  }
}
