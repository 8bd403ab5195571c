/**
 * Conversion events: `POST /attribution/events`. An event is raw and immutable, stored once per
 * externalEventId (a replay answers the stored result; the same id with another body is 409); one
 * sent without an externalEventId, as OpenPartner allows, is named by its own id and never a replay.
 * Its attribution is derived: the customer's identified clicks inside the program's window (a click
 * up to a minute after the event counts: the event's clock is not the router's, and payment systems
 * stamp whole seconds), weighted by the program's model. The first signup or sale so attributed fixes
 * the customer's referral in that program, so renewals keep earning after the window (recurring
 * rules). An event that finds no click is kept with the reason (`no_identity`, `no_click`,
 * `outside_window`, OpenPartner's names) and attributed when a late identify ties a click to its
 * customer. A value sent without a currency is in its program's currency. Refunds and chargebacks
 * reverse what the sale earned (commissions/service.ts).
 */
import { createHash } from 'node:crypto'
import { sql } from 'kysely'
import { accrue, type NoCommission, type ProgramFacts, type Touch } from '../commissions/accrue.ts'
import { type Commission, reverseCommission, toCommission } from '../commissions/service.ts'
import { readJson, readMinor, writeJson } from '../db/codec.ts'
import { isTransientConflict, isUniqueViolation } from '../db/errors.ts'
import type { BatchWork, Outcome } from '../db/group-commit.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { metadataText } from '../metadata.ts'
import { parseAmount, prorate } from '../money/money.ts'
import { currentTerms } from '../programs/enrolments.ts'
import type { ProgramTermsCache } from '../programs/terms.ts'
import { defaultCurrency } from '../tenants/service.ts'
import { normalizeEmail } from '../users/service.ts'
import { type AttributionFacts, flushFacts, loadFacts, type StoredEvent } from './facts.ts'
import { type AttributionModel, modelWeights } from './models.ts'

/** Event types and what they mean for commissions; any other type is recorded and earns nothing. */
const TRIGGERS: Record<string, 'signup' | 'sale' | 'refund'> = {
  signup: 'signup',
  lead: 'signup',
  sale: 'sale',
  purchase: 'sale',
  invoice_paid: 'sale',
  opportunity_won: 'sale',
  refund: 'refund',
  chargeback: 'refund',
}
export function triggerOf(type: string): 'signup' | 'sale' | 'refund' | undefined {
  return TRIGGERS[type]
}

export const EVENT_TYPE_PATTERN = '^[a-z][a-z0-9_.:-]{0,63}$'
/** How far in the future an event's ts may be (clock skew), and how far in the past. */
const MAX_FUTURE_MS = 5 * 60_000
const MAX_PAST_MS = 400 * 86_400_000
/** How long after an event a click may be and still have led to it (clock skew, whole-second stamps). */
export const CLICK_GRACE_MS = 60_000

export interface EventInput {
  userId: string
  type: string
  value?: string
  /** Left out with a value: the currency of the customer's program (the tenant's default without one). */
  currency?: string
  /** Left out: the event is named by its own id, and sending it again records it again. */
  externalEventId?: string
  metadata?: Record<string, unknown>
  ts?: string
  /** Refunds: the externalEventId of the sale refunded (default: the customer's latest sale). */
  refundOf?: string
  /** The customer's email, to catch partners referring themselves; stored, never sent out. */
  customerEmail?: string
}

export interface AttributionTouch {
  clickId: string
  partnerId: string
  programId: string
  /** Share of the credit, 0.4 for 40%: a multiple of 0.0001 (models.ts), so the number is exact as written. */
  weight: number
  /** This event's credit to this click (OpenPartner's Attribution row). */
  attributionId: string
}

/**
 * What an event's attribution came to: `attributed` (touches found), or, in OpenPartner's names, why
 * not: `no_identity` (no click of the customer's is identified), `no_click` (none the caller may
 * credit: a key bound to another program), `outside_window` (none inside its program's window before
 * the event); and partnerd's `reversal` for refunds and chargebacks.
 */
export const ATTRIBUTION_STATUSES = ['attributed', 'no_identity', 'no_click', 'outside_window', 'reversal'] as const
export type AttributionStatus = (typeof ATTRIBUTION_STATUSES)[number]
type Unattributed = 'no_identity' | 'no_click' | 'outside_window'
const UNATTRIBUTED: ReadonlySet<string> = new Set<Unattributed>(['no_identity', 'no_click', 'outside_window'])

export interface Attribution {
  status: AttributionStatus
  model: AttributionModel | null
  touches: AttributionTouch[]
  /** Why nothing was earned, when nothing was; `not_commissionable`: an event type that earns nothing. */
  reason?: NoCommission | 'no_sale_to_refund' | 'not_commissionable'
}

/** An event kept without attribution, waiting for a late identify (identify.ts). */
export function isUnattributed(attribution: Attribution): boolean {
  return UNATTRIBUTED.has(attribution.status)
}

export interface EventResult {
  eventId: string
  externalEventId: string
  /** The touches name the commission each one's partner earned by the event, if any. */
  attribution: Omit<Attribution, 'touches'> & { touches: (AttributionTouch & { commissionId?: string })[] }
  commissions: Commission[]
}

type EventRow = DB['events']

/** JSON with object keys sorted at every depth: the same body in another key order is the same event. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    )
  }
  return value
}

function requestHash(input: EventInput): string {
  return createHash('sha256')
    .update(JSON.stringify(canonical(input)))
    .digest('hex')
}

export function occurredAt(ts: string | undefined, now: Date): string {
  if (ts === undefined) return now.toISOString()
  const at = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(ts) ? Date.parse(ts) : Number.NaN
  if (Number.isNaN(at)) throw new AppError(400, 'invalid_timestamp', 'ts: an ISO 8601 date-time with a zone, e.g. 2026-05-01T12:00:00Z')
  if (at > now.getTime() + MAX_FUTURE_MS) throw new AppError(400, 'invalid_timestamp', 'ts is in the future (more than 5 minutes ahead)')
  if (at < now.getTime() - MAX_PAST_MS) throw new AppError(400, 'invalid_timestamp', 'ts is more than 400 days ago')
  return new Date(at).toISOString()
}

/** The stored result of an event, or undefined; throws 409 when the same id came with another body. */
async function replay(scope: TenantScope, input: EventInput, hash: string): Promise<EventResult | undefined> {
  if (input.externalEventId === undefined) return undefined
  const row = await scope.db
    .selectFrom('events')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('external_event_id', '=', input.externalEventId)
    .executeTakeFirst()
  if (!row) return undefined
  if (row.request_hash !== hash) {
    throw new AppError(409, 'event_conflict', `externalEventId ${input.externalEventId} was recorded with a different body`)
  }
  return resultOf(scope, row)
}

async function resultOf(scope: TenantScope, row: StoredEvent): Promise<EventResult> {
  const commissions = await scope.db
    .selectFrom('commissions')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('event_id', '=', row.id)
    .orderBy('id')
    .execute()
  return eventResult(row, { attribution: readJson<Attribution>(row.attribution), commissions: commissions.map(toCommission) })
}

/** The answer to an event, the same when it is recorded and when it is replayed. */
function eventResult(row: Pick<EventRow, 'id' | 'external_event_id'>, derived: Derived): EventResult {
  const touches = derived.attribution.touches.map((touch) => {
    const earned = derived.commissions.find((c) => c.partnerId === touch.partnerId && c.programId === touch.programId)
    return earned ? { ...touch, commissionId: earned.id } : touch
  })
  return {
    eventId: row.id,
    externalEventId: row.external_event_id,
    attribution: { ...derived.attribution, touches },
    commissions: derived.commissions,
  }
}

/**
 * Records an event and derives its attribution and commissions; `replayed` when it was known.
 * `onlyProgram`: a key bound to one program attributes its events to that program alone.
 */
export async function recordEvent(
  scope: TenantScope,
  input: EventInput,
  now = new Date(),
  onlyProgram?: string,
  programs?: ProgramTermsCache,
): Promise<EventOutcome> {
  const hash = requestHash(input)
  let row: EventRow
  try {
    row = eventRow(scope.tenantId, { ...input, currency: await currencyOf(scope, input, onlyProgram) }, hash, now)
  } catch (err) {
    // A replay is answered as it was first, even where its body would no longer pass (a ts now too old).
    const known = await replay(scope, input, hash)
    if (known) return { result: known, replayed: true }
    throw err
  }
  // The insert is also the replay check: a known externalEventId inserts nothing (and, on
  // PostgreSQL, a concurrent first recording of it is waited for), and its stored result answers.
  const inserted = await scope.db
    .insertInto('events')
    .values(row)
    .onConflict((conflict) => conflict.columns(['tenant_id', 'external_event_id']).doNothing())
    .returning('id')
    .executeTakeFirst()
  if (!inserted) {
    const known = await replay(scope, input, hash)
    if (!known) throw new Error(`event ${input.externalEventId} conflicted but is not stored`)
    return { result: known, replayed: true }
  }
  const trigger = triggerOf(input.type)
  const derived =
    trigger === 'refund' ? await refund(scope, row, now, onlyProgram) : await attribute(scope, row, trigger, onlyProgram, programs)
  await scope.db
    .updateTable('events')
    .set({ attribution: writeJson(derived.attribution) })
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', row.id)
    .execute()
  scope.emit('event.recorded', { eventId: row.id, externalEventId: row.external_event_id, type: row.type, userId: row.customer_id })
  return { result: eventResult(row, derived), replayed: false }
}

export type EventOutcome = { result: EventResult; replayed: boolean }

/** An event to record in a batch (recordEvents): as recordEvent takes it. */
export interface EventItem {
  input: EventInput
  now: Date
  onlyProgram?: string
}

/**
 * Records a batch of events in the open transaction, in order, each as recordEvent would on its own:
 * the batch's work for db/group-commit.ts, which the events route hands its events to. A refused
 * event (its outcome `failed`) writes nothing. Sales, signups and the like take the batch's way: one
 * look for replays, one reading of the customers' facts (facts.ts), then their rows written together.
 * Refunds and values without a currency (which read the customer's history) take recordEvent's own
 * way, each in a savepoint, after the events before them are written, so that they see them.
 */
export function eventBatches(programs?: ProgramTermsCache): BatchWork<EventItem, EventOutcome> {
  return async (scope, items) => {
    const outcomes: Outcome<EventOutcome>[] = []
    let run: EventItem[] = []
    for (const item of items) {
      if (batchable(item.input)) {
        run.push(item)
        continue
      }
      outcomes.push(...(await recordTogether(scope, run, programs)))
      run = []
      outcomes.push(await recordAlone(scope, item, programs))
    }
    outcomes.push(...(await recordTogether(scope, run, programs)))
    return outcomes
  }
}

function batchable(input: EventInput): boolean {
  return triggerOf(input.type) !== 'refund' && (input.currency !== undefined || input.value === undefined)
}

/** One event by recordEvent, in a savepoint: its refusal takes back its own writes only. */
async function recordAlone(scope: TenantScope, item: EventItem, programs?: ProgramTermsCache): Promise<Outcome<EventOutcome>> {
  const raised: [string, unknown][] = []
  await sql`savepoint event_alone`.execute(scope.db)
  try {
    const value = await recordEvent(
      { ...scope, emit: (type, data) => void raised.push([type, data]) },
      item.input,
      item.now,
      item.onlyProgram,
      programs,
    )
    await sql`release savepoint event_alone`.execute(scope.db)
    for (const [type, data] of raised) scope.emit(type, data)
    return { value }
  } catch (err) {
    // A conflict or a unique constraint's refusal is the batch's to handle (db/group-commit.ts).
    if (isTransientConflict(err) || isUniqueViolation(err)) throw err
    await sql`rollback to savepoint event_alone`.execute(scope.db)
    await sql`release savepoint event_alone`.execute(scope.db)
    return { failed: err }
  }
}

/**
 * Events without refunds among them, together. Replays are answered from what is stored or from
 * the same id earlier in the batch; the new events are derived one after another from the facts of
 * all their customers, then written at once. Their insert is plain: on PostgreSQL the same id stored
 * meanwhile by a concurrent batch is a unique violation, and the event then runs again alone and
 * finds it (db/group-commit.ts).
 */
async function recordTogether(scope: TenantScope, items: EventItem[], programs?: ProgramTermsCache): Promise<Outcome<EventOutcome>[]> {
  if (items.length === 0) return []
  const hashes = items.map((item) => requestHash(item.input))
  const named = [...new Set(items.flatMap((item) => (item.input.externalEventId === undefined ? [] : [item.input.externalEventId])))]
  // One read for the replay check and every customer's facts (those of replays and refusals too).
  const { facts, stored: storedRows } = await loadFacts(
    scope,
    items.map((item) => item.input.userId),
    { programs, signups: items.some((item) => triggerOf(item.input.type) === 'signup'), externalIds: named },
  )
  const stored = new Map(storedRows.map((row) => [row.external_event_id, row]))
  // Each item: a row to record, an earlier item or a stored event it replays, or its refusal.
  type Plan = { row: EventRow } | { replays: number } | { stored: StoredEvent } | { failed: unknown }
  const plans: Plan[] = []
  const firstOf = new Map<string, number>()
  items.forEach((item, i) => {
    const external = item.input.externalEventId
    const known = external === undefined ? undefined : stored.get(external)
    const earlier = external === undefined ? undefined : firstOf.get(external)
    const conflict = () => new AppError(409, 'event_conflict', `externalEventId ${external} was recorded with a different body`)
    if (known) plans.push(known.request_hash === hashes[i] ? { stored: known } : { failed: conflict() })
    else if (earlier !== undefined) plans.push(hashes[earlier] === hashes[i] ? { replays: earlier } : { failed: conflict() })
    else {
      try {
        plans.push({ row: eventRow(scope.tenantId, item.input, hashes[i]!, item.now) })
        if (external !== undefined) firstOf.set(external, i)
      } catch (err) {
        plans.push({ failed: err })
      }
    }
  })
  const rows = plans.flatMap((plan) => ('row' in plan ? [plan.row] : []))
  const outcomes: Outcome<EventOutcome>[] = []
  const raised: [string, unknown][] = []
  const emit = (type: string, data: unknown) => void raised.push([type, data])
  for (const [i, plan] of plans.entries()) {
    if ('failed' in plan) outcomes.push(plan)
    else if ('stored' in plan) outcomes.push({ value: { result: await resultOf(scope, plan.stored), replayed: true } })
    else if ('replays' in plan) {
      const original = outcomes[plan.replays] as { value: EventOutcome }
      outcomes.push({ value: { result: original.value.result, replayed: true } })
    } else {
      const { row } = plan
      const trigger = triggerOf(row.type) as 'signup' | 'sale' | undefined
      const derived = attributeWith(facts, scope.tenantId, row, trigger, items[i]!.onlyProgram, emit)
      row.attribution = writeJson(derived.attribution)
      emit('event.recorded', { eventId: row.id, externalEventId: row.external_event_id, type: row.type, userId: row.customer_id })
      outcomes.push({ value: { result: eventResult(row, derived), replayed: false } })
    }
  }
  await flushFacts(scope, facts, rows)
  for (const [type, data] of raised) scope.emit(type, data)
  return outcomes
}

/**
 * The currency of the event's value: the one it names, else the one program the customer came
 * through (a key bound to a program: its program), else the tenant's default. A customer of programs
 * in several currencies must name one.
 */
async function currencyOf(scope: TenantScope, input: EventInput, onlyProgram?: string): Promise<string | undefined> {
  if (input.currency !== undefined || input.value === undefined) return input.currency
  let programs = onlyProgram ? [onlyProgram] : []
  if (!onlyProgram) {
    const referred = await scope.db
      .selectFrom('referrals')
      .select('program_id')
      .where('tenant_id', '=', scope.tenantId)
      .where('customer_id', '=', input.userId)
      .execute()
    const clicked = await scope.db
      .selectFrom('identities')
      .innerJoin('clicks', 'clicks.id', 'identities.click_id')
      .select('clicks.program_id')
      .where('identities.tenant_id', '=', scope.tenantId)
      .where('identities.customer_id', '=', input.userId)
      .execute()
    programs = [...new Set([...referred, ...clicked].map((r) => r.program_id))]
  }
  if (programs.length === 0) return defaultCurrency(scope)
  const currencies = await scope.db
    .selectFrom('programs')
    .select('currency')
    .distinct()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', 'in', programs)
    .orderBy('currency')
    .execute()
  if (currencies.length > 1) {
    const named = currencies.map((c) => c.currency).join(' and ')
    throw new AppError(400, 'invalid_amount', `currency: ${input.userId} came through programs in ${named}; name the currency of value`)
  }
  return currencies[0]?.currency ?? (await defaultCurrency(scope))
}

/** The event as stored, checked: amounts, metadata and ts; its attribution is derived once it is in. */
function eventRow(tenantId: string, input: EventInput, hash: string, now: Date): EventRow {
  const trigger = triggerOf(input.type)
  if ((input.value === undefined) !== (input.currency === undefined)) {
    throw new AppError(400, 'invalid_amount', 'value and currency go together')
  }
  if (trigger === 'sale' && input.value === undefined) {
    throw new AppError(400, 'invalid_amount', `a ${input.type} event needs a value and currency`)
  }
  const valueMinor = input.value !== undefined ? parseAmount(input.value, input.currency!, 'value') : null
  if (input.refundOf !== undefined && trigger !== 'refund')
    throw new AppError(400, 'invalid_request', 'refundOf is for refund and chargeback events')
  const metadata = metadataText(input.metadata ?? {})
  const id = newId('event')
  return {
    id,
    tenant_id: tenantId,
    external_event_id: input.externalEventId ?? id,
    customer_id: input.userId,
    type: input.type,
    value_minor: valueMinor,
    currency: input.currency ?? null,
    refund_of: input.refundOf ?? null,
    customer_email: input.customerEmail === undefined ? null : normalizeEmail(input.customerEmail),
    metadata,
    occurred_at: occurredAt(input.ts, now),
    received_at: now.toISOString(),
    request_hash: hash,
    attribution: writeJson(unattributed('no_identity').attribution),
  }
}

/** What an event's derivation gave: its attribution, and the commissions (or clawbacks) it created. */
export interface Derived {
  attribution: Attribution
  commissions: Commission[]
}

function unattributed(status: Unattributed): Derived {
  return { attribution: { status, model: null, touches: [] }, commissions: [] }
}

/**
 * Derives a stored event's attribution, creating referrals and commissions, in the open transaction:
 * for an event recorded on its own (refunds' neighbours, integrations) and for the backlog: events
 * kept unattributed (isUnattributed) are passed through again when a late identify arrives.
 */
export async function attribute(
  scope: TenantScope,
  event: EventRow,
  trigger: 'signup' | 'sale' | undefined,
  onlyProgram?: string,
  programs?: ProgramTermsCache,
): Promise<Derived> {
  const { facts } = await loadFacts(scope, [event.customer_id], { programs, signups: trigger === 'signup' })
  const raised: [string, unknown][] = []
  const derived = attributeWith(facts, scope.tenantId, event, trigger, onlyProgram, (type, data) => void raised.push([type, data]))
  await flushFacts(scope, facts)
  for (const [type, data] of raised) scope.emit(type, data)
  return derived
}

/**
 * The event's attribution and commissions, decided from the facts of its batch (facts.ts), which
 * are told of the referral and commissions it makes; its domain events go to `emit`.
 */
function attributeWith(
  facts: AttributionFacts,
  tenantId: string,
  event: EventRow,
  trigger: 'signup' | 'sale' | undefined,
  onlyProgram: string | undefined,
  emit: (type: string, data: unknown) => void,
): Derived {
  const referrals = facts.referrals(event.customer_id)
  const identified = facts.clicks(event.customer_id)
  if (referrals.length === 0 && identified.length === 0) return unattributed('no_identity')
  const latest = new Date(Date.parse(event.occurred_at) + CLICK_GRACE_MS).toISOString()
  const clicks = identified.filter((c) => c.created_at <= latest)
  const programIds = [...new Set([...referrals.map((r) => r.program_id), ...identified.map((c) => c.program_id)])].filter(
    (id) => onlyProgram === undefined || id === onlyProgram,
  )
  if (programIds.length === 0) return unattributed('no_click')
  const programs = programIds
    .map((id) => facts.programs.get(id))
    .filter((p) => p !== undefined)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

  const touches: AttributionTouch[] = []
  let model: AttributionModel | null = null
  let reason: NoCommission | undefined
  const commissions: Commission[] = []
  for (const program of programs) {
    let referral = referrals.find((r) => r.program_id === program.id)
    let programTouches: Touch[]
    if (referral) {
      programTouches = readJson<Touch[]>(referral.touches)
    } else {
      const windowStart = new Date(Date.parse(event.occurred_at) - program.attribution_window_days * 86_400_000).toISOString()
      const inWindow = clicks.filter((c) => c.program_id === program.id && c.created_at >= windowStart)
      if (inWindow.length === 0) continue
      const weights = modelWeights(program.attribution_model, inWindow.length)
      programTouches = inWindow
        .map((c, i) => ({ clickId: c.id, partnerId: c.partner_id, programId: program.id, weightBp: weights[i]!, flag: c.flag }))
        .filter((t) => t.weightBp > 0)
      if (trigger) {
        referral = {
          tenant_id: tenantId,
          customer_id: event.customer_id,
          program_id: program.id,
          touches: writeJson(programTouches),
          model: program.attribution_model,
          first_event_id: event.id,
          first_sale_at: null,
          created_at: new Date().toISOString(),
        }
        facts.addReferral(referral)
      }
    }
    model ??= (referral?.model as AttributionModel | undefined) ?? program.attribution_model
    touches.push(
      ...programTouches.map((t) => ({
        clickId: t.clickId,
        partnerId: t.partnerId,
        programId: t.programId,
        weight: t.weightBp / 10_000,
        attributionId: newId('attribution'),
      })),
    )
    if (!trigger || !referral) continue
    let firstSaleAt = referral.first_sale_at
    const firstSale = trigger === 'sale' && firstSaleAt === null
    if (firstSale) {
      firstSaleAt = event.occurred_at
      facts.setFirstSale(referral, firstSaleAt)
    }
    const terms: ProgramFacts = { id: program.id, currency: program.currency, status: program.status, terms: currentTerms(program) }
    const conversion = {
      eventId: event.id,
      customerId: event.customer_id,
      customerEmail: event.customer_email,
      trigger,
      valueMinor: event.value_minor === null ? null : Number(event.value_minor),
      currency: event.currency,
      occurredAt: event.occurred_at,
      firstSaleAt,
      firstSale,
    }
    const outcome = accrue(facts, terms, programTouches, conversion, emit, tenantId)
    if (outcome.commissions.length > 0) commissions.push(...outcome.commissions)
    else reason ??= outcome.reason
  }
  if (touches.length === 0) return unattributed('outside_window')
  emit('attribution.created', { eventId: event.id, userId: event.customer_id, model, touches })
  if (!trigger) return { attribution: { status: 'attributed', model, touches, reason: 'not_commissionable' }, commissions }
  const earned = commissions.length > 0
  return { attribution: { status: 'attributed', model, touches, ...(earned || !reason ? {} : { reason }) }, commissions }
}

/**
 * A refund or chargeback: takes back the refunded share of what the sale earned; from a key bound to
 * one program (`onlyProgram`), of what it earned in that program alone.
 */
async function refund(scope: TenantScope, event: EventRow, now: Date, onlyProgram?: string): Promise<Derived> {
  let sales = scope.db
    .selectFrom('events')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('customer_id', '=', event.customer_id)
    .where('id', '!=', event.id)
  // A named sale is found whoever it was recorded for (payment systems name the payment, not your
  // customer id); otherwise the customer's latest sale.
  if (event.refund_of !== null)
    sales = scope.db
      .selectFrom('events')
      .selectAll()
      .where('tenant_id', '=', scope.tenantId)
      .where('external_event_id', '=', event.refund_of)
  else
    sales = sales
      .where(
        'type',
        'in',
        Object.keys(TRIGGERS).filter((t) => TRIGGERS[t] === 'sale'),
      )
      .where('occurred_at', '<=', event.occurred_at)
  const sale = await sales.orderBy('occurred_at', 'desc').orderBy('id', 'desc').executeTakeFirst()
  if (!sale) {
    if (event.refund_of !== null) throw new AppError(404, 'unknown_event', `no sale ${event.refund_of} for user ${event.customer_id}`)
    return { attribution: { status: 'reversal', model: null, touches: [], reason: 'no_sale_to_refund' }, commissions: [] }
  }
  if (TRIGGERS[sale.type] !== 'sale') throw new AppError(400, 'invalid_refund', `${event.refund_of} is a ${sale.type} event, not a sale`)
  if (event.refund_of === null) {
    // Name the sale on the refund, so later refunds of it count this one.
    await scope.db
      .updateTable('events')
      .set({ refund_of: sale.external_event_id })
      .where('tenant_id', '=', scope.tenantId)
      .where('id', '=', event.id)
      .execute()
  }
  const saleValue = sale.value_minor === null ? null : Number(sale.value_minor)
  if (event.value_minor !== null && saleValue !== null) {
    if (event.currency !== sale.currency) throw new AppError(400, 'invalid_refund', `the sale was in ${sale.currency}`)
    const earlier = await scope.db
      .selectFrom('events')
      .select('value_minor')
      .where('tenant_id', '=', scope.tenantId)
      .where('refund_of', '=', sale.external_event_id)
      .where('id', '!=', event.id)
      .execute()
    // Summed exactly: each refund is bounded (money/money.ts), their sum need not be.
    const refunded = earlier.reduce((sum, r) => sum + readMinor(r.value_minor), 0n)
    if (refunded + readMinor(event.value_minor) > BigInt(saleValue)) {
      throw new AppError(400, 'invalid_refund', 'refunds would exceed the sale')
    }
  }
  const earnedBySale = await scope.db
    .selectFrom('commissions')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('event_id', '=', sale.id)
    .where('kind', '=', 'commission')
    .$if(onlyProgram !== undefined, (q) => q.where('program_id', '=', onlyProgram!))
    .orderBy('id')
    .execute()
  // The refund's own entries are its clawbacks; a commission reversed whole stays the sale's.
  const clawbacks: Commission[] = []
  for (const commission of earnedBySale) {
    const share =
      event.value_minor === null || !saleValue
        ? commission.amount_minor
        : prorate(commission.amount_minor, Number(event.value_minor), saleValue)
    const reversal = await reverseCommission(scope, commission, share, { eventId: event.id, now })
    if (reversal?.clawback) clawbacks.push(reversal.clawback)
  }
  const saleAttribution = readJson<Attribution>(sale.attribution)
  const touches = saleAttribution.touches.filter((t) => onlyProgram === undefined || t.programId === onlyProgram)
  return { attribution: { status: 'reversal', model: touches.length ? saleAttribution.model : null, touches }, commissions: clawbacks }
}
