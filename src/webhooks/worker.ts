/**
 * The delivery worker. Every poll it claims due deliveries (setting `locked_until`, so a worker that
 * dies mid-delivery loses its claim after a while and another instance takes the delivery over; on
 * PostgreSQL with FOR UPDATE SKIP LOCKED, so two instances never claim the same row), sends each with
 * a timeout, and records the outcome in the delivery's tenant transaction:
 *
 * - 2xx: delivered. Anything else (3xx included: redirects are not followed) or no answer in time:
 *   retried after the next wait of webhooks.retry_schedule_ms (±20% jitter), failed after the last.
 * - 410 Gone disables the endpoint at once; an endpoint with no success for
 *   webhooks.disable_after_seconds is disabled too; either raises `webhook.endpoint_disabled`.
 *
 * Delivery is at least once: a worker killed after the receiver answered but before the outcome was
 * recorded sends that attempt again. Receivers drop repeats by `webhook-id`, which never changes.
 */
import { type RawBuilder, sql } from 'kysely'
import type { Config } from '../config/schema.ts'
import { withoutDiskWait } from '../db/commit-durability.ts'
import type { Database } from '../db/database.ts'
import { beginningWith } from '../db/postgres-dialect.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope, WithTenant } from '../db/with-tenant.ts'
import type { Logger } from '../log/logger.ts'
import { signingSecrets, toEndpoint } from './endpoints.ts'
import type { Envelope } from './outbox.ts'
import { expandPostback } from './postbacks.ts'
import { responseExcerpt } from './response-excerpt.ts'
import { type Signer, signer } from './signing.ts'
import { assertPublicDestination } from './ssrf.ts'

/** What the worker reads of a claimed delivery: the rest of the row it does not need. */
type Delivery = Pick<DB['webhook_deliveries'], 'id' | 'tenant_id' | 'endpoint_id' | 'event_type' | 'payload' | 'attempts'>
type Endpoint = DB['webhook_endpoints']
/** An endpoint as a batch sends to it: read once, its signing keys decoded once. */
interface Destination {
  row: Endpoint
  active: boolean
  /** null for a postback (unsigned); the error when the secret does not open. */
  sign: Signer | null | Error
}
interface Outcome {
  ok: boolean
  status: number | null
  error: string | null
  /** The start of the receiver's answer, for the delivery log. */
  excerpt?: string | null
  /** No retry: the receiver is gone, or the endpoint is off. */
  final: boolean
  gone?: boolean
  /** Not sent: its claim would have run out before an answer could be recorded (see #deliverTenant). */
  released?: boolean
}
type Delivered = Outcome & { delivery: Delivery }
/**
 * Deliveries claimed, and their outcomes recorded, per transaction. On SQLite each write transaction
 * is a commit to disk: a batch of 200 pays two per 200 deliveries (measured: the commits, not the
 * sending, were what a batch of 50 waited on).
 */
const BATCH = 200
/** Requests sent at once, across batches: what a receiver sees of the worker at most. */
const SENDING = 50
/** Batches being sent at once: one sends while the next is claimed (and the one before is recorded). */
const IN_FLIGHT = 2
/**
 * What a claim leaves, beyond the send's own timeout, for recording the outcome. A delivery is sent
 * only while its claim still has its timeout and this ahead of it.
 */
const RECORDING_MS = 5_000
export class DeliveryWorker {
  #timer: ReturnType<typeof setInterval> | undefined
  #running: Promise<void> | undefined
  readonly #sending = new Slots(SENDING)

  constructor(
    private readonly database: Database,
    private readonly withTenant: WithTenant,
    private readonly settings: Config['webhooks'],
    private readonly log: Logger,
  ) {}

  start(): void {
    this.#timer = setInterval(() => {
      this.#running ??= this.runOnce()
        .then(() => {})
        .catch((err) => this.log.error({ err }, 'webhook delivery round failed'))
        .finally(() => {
          this.#running = undefined
        })
    }, this.settings.poll_interval_ms)
    this.#timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.#running
  }

  /**
   * One round: claim what is due and deliver it, batch after batch while batches come back full. A
   * batch is claimed while the one before is still being sent (at most IN_FLIGHT at once), so the
   * receivers are not idle while outcomes are written and the next batch is read. Each tenant in a
   * batch costs one read (its endpoints) and one write transaction (the outcomes: one statement for
   * the deliveries that succeeded alike). Returns how many deliveries were claimed: sent, or given
   * back unsent (#deliverTenant).
   */
  runOnce(): Promise<number> {
    // The worker's own writes (claims, outcomes, retry times) need not wait for the disk: lost to a
    // power cut, they make it send those deliveries again, as at-least-once delivery allows.
    return withoutDiskWait(() => this.#round())
  }

  async #round(): Promise<number> {
    let total = 0
    const inFlight = new Set<Promise<void>>()
    for (;;) {
      const { claimed, leaseEnds } = await this.#claim()
      total += claimed.length
      const byTenant = new Map<string, Delivery[]>()
      for (const d of claimed) {
        const theirs = byTenant.get(d.tenant_id)
        if (theirs) theirs.push(d)
        else byTenant.set(d.tenant_id, [d])
      }
      const batch: Promise<void> = Promise.all(
        [...byTenant].map(([tenantId, deliveries]) => this.#deliverTenant(tenantId, deliveries, leaseEnds)),
      ).then(() => void inFlight.delete(batch))
      inFlight.add(batch)
      if (claimed.length < BATCH) break
      if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
    return total
  }

  /** Due deliveries, claimed until `leaseEnds` (ms): no other worker takes them before. */
  async #claim(): Promise<{ claimed: Delivery[]; leaseEnds: number }> {
    const now = new Date()
    // Long enough to wait a turn, send and record; a worker that died holding the claim loses it after this.
    const leaseEnds = now.getTime() + this.settings.timeout_ms * 2 + RECORDING_MS
    const until = new Date(leaseEnds).toISOString()
    const postgres = this.database.dialect === 'postgres'
    if (!(await this.#anyDue(now.toISOString()))) return { claimed: [], leaseEnds }
    return this.database.db.transaction().execute(async (trx) => {
      // The one cross-tenant read of the app: the worker says so (see the policy in 0009_webhooks).
      if (postgres) await sql`select set_config('app.webhook_worker', 'on', true)`.execute(trx)
      const due = sql`select id from webhook_deliveries
        where status = 'pending' and next_attempt_at <= ${now.toISOString()} and (locked_until is null or locked_until < ${now.toISOString()})
        order by next_attempt_at limit ${BATCH} ${postgres ? sql`for update skip locked` : sql``}`
      const result = await sql<Delivery>`update webhook_deliveries set locked_until = ${until}
        where id in (${due}) and status = 'pending' and (locked_until is null or locked_until < ${now.toISOString()})
        returning id, tenant_id, endpoint_id, event_type, payload, attempts`.execute(trx)
      return { claimed: result.rows, leaseEnds }
    })
  }

  /**
   * Whether anything is due, found out by a read: most polls find nothing, and a claim is a write
   * transaction. On SQLite that took the write lock, and a turn from the click writer, every poll;
   * on PostgreSQL a write transaction per instance per poll. The read takes no lock.
   */
  async #anyDue(now: string): Promise<boolean> {
    const postgres = this.database.dialect === 'postgres'
    // The one cross-tenant read of the app: the worker says so (see the policy in 0009_webhooks).
    const row = await beginningWith({ 'app.webhook_worker': 'on' }, (applied) =>
      this.database.db
        .transaction()
        .setAccessMode('read only')
        .execute(async (trx) => {
          if (postgres && !applied()) await sql`select set_config('app.webhook_worker', 'on', true)`.execute(trx)
          return trx
            .selectFrom('webhook_deliveries')
            .select('id')
            .where('status', '=', 'pending')
            .where('next_attempt_at', '<=', now)
            .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
            .limit(1)
            .executeTakeFirst()
        }),
    )
    return row !== undefined
  }

  async #deliverTenant(tenantId: string, deliveries: Delivery[], leaseEnds: number): Promise<void> {
    const endpointIds = [...new Set(deliveries.map((d) => d.endpoint_id))]
    const endpoints = await this.withTenant(
      tenantId,
      async (scope) => {
        const rows = await scope.db
          .selectFrom('webhook_endpoints')
          .selectAll()
          .where('tenant_id', '=', scope.tenantId)
          .where('id', 'in', endpointIds)
          .execute()
        // Opened here, where the key ring is; a secret that does not open fails its deliveries, not the round.
        return rows.map((row): Destination => {
          const active = toEndpoint(row).active
          try {
            return { row, active, sign: row.format === 'postback' ? null : signer(row.format, signingSecrets(row, scope.secrets)) }
          } catch (err) {
            this.log.error({ tenantId, endpoint: row.id, err: (err as Error).message }, 'webhook secret does not open')
            return { row, active, sign: err as Error }
          }
        })
      },
      { readOnly: true },
    )
    const byId = new Map(endpoints.map((e) => [e.row.id, e]))
    // Where each delivery goes (a postback's URL is its own), and each destination checked once for
    // the batch, before any is sent: sending then awaits nothing but the receiver.
    const targets = deliveries.map((delivery) => {
      const endpoint = byId.get(delivery.endpoint_id)
      if (!endpoint?.active || endpoint.sign instanceof Error) return null
      return endpoint.sign ? endpoint.row.url : expandPostback(endpoint.row.url, JSON.parse(delivery.payload) as Envelope)
    })
    const refusals = new Map<string, string | null>()
    await Promise.all(
      [...new Set(targets)].map(async (target) => {
        if (target === null) return
        const refusal = await Promise.try(() => assertPublicDestination(new URL(target), this.settings.allow_hosts)).then(
          () => null,
          (err: Error) => err.message.slice(0, 300),
        )
        refusals.set(target, refusal)
      }),
    )
    const outcomes = await Promise.all(
      deliveries.map((delivery, i): Delivered | Promise<Delivered> => {
        const endpoint = byId.get(delivery.endpoint_id)
        if (!endpoint?.active) return { delivery, ok: false, status: null, error: 'endpoint disabled', final: true }
        const sign = endpoint.sign
        if (sign instanceof Error)
          return { delivery, ok: false, status: null, error: 'the signing secret does not open (secrets.key)', final: false }
        const target = targets[i]!
        const refusal = refusals.get(target)
        if (refusal) return { delivery, ok: false, status: null, error: refusal, final: false }
        // A delivery waits for a free slot, behind slow receivers at worst. Once its claim could run
        // out before the answer is recorded, another instance may take it: it is not sent, but given
        // back at once, to be claimed anew (by this worker too) with a claim of its own.
        return this.#sending.use(() =>
          Date.now() + this.settings.timeout_ms + RECORDING_MS > leaseEnds
            ? Promise.resolve({ delivery, ok: false, status: null, error: null, final: false, released: true })
            : this.#send(delivery, target, sign),
        )
      }),
    )
    await this.withTenant(tenantId, async (scope) => {
      await this.#lockEndpoints(scope, endpointIds)
      await this.#recordDelivered(
        scope,
        outcomes.filter((o) => o.ok),
      )
      await this.#recordFailed(
        scope,
        outcomes.filter((o) => !o.ok && !o.released),
      )
      await this.#release(
        scope,
        outcomes.filter((o) => o.released),
        leaseEnds,
      )
    })
  }

  /**
   * Takes the rows of the endpoints whose outcomes are recorded, before any of their deliveries: the
   * lock order of every transaction that touches both (see deleteEndpoint in endpoints.ts). Recording
   * updates a delivery and then, on a failure, its endpoint (the failure clock); deleting an endpoint
   * locks its row and then deletes its deliveries (the foreign key's cascade). In opposite orders the
   * two deadlocked, and PostgreSQL aborted one: the delete answered 500. Taken in id order, two
   * workers' recordings cannot deadlock each other either. FOR NO KEY UPDATE is the lock updating the
   * endpoint takes anyway; it does not hold up the outbox, whose new deliveries take KEY SHARE.
   * SQLite runs write transactions one at a time: there is no order to keep.
   */
  async #lockEndpoints(scope: TenantScope, endpointIds: string[]): Promise<void> {
    if (this.database.dialect !== 'postgres') return
    await scope.db
      .selectFrom('webhook_endpoints')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('id', 'in', endpointIds)
      .orderBy('id')
      .forNoKeyUpdate()
      .execute()
  }

  /** One attempt over HTTP; never throws. */
  async #send(delivery: Delivery, target: string, sign: Signer | null): Promise<Delivered> {
    // The stored body is sent, and signed, as it is: its bytes are what the receiver verifies.
    const headers = sign
      ? sign({
          id: delivery.id,
          // The name the endpoint knows the event by (OpenPartner's, for its format).
          type: delivery.event_type,
          body: delivery.payload,
          timestamp: Math.floor(Date.now() / 1000),
        })
      : { 'webhook-id': delivery.id }
    if (sign) headers['content-type'] = 'application/json'
    headers['user-agent'] = 'partnerd-webhooks'
    let status: number | null = null
    let error: string | null = null
    let excerpt: string | null = null
    try {
      const response = await fetch(target, {
        method: sign ? 'POST' : 'GET',
        headers,
        body: sign ? delivery.payload : undefined,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.settings.timeout_ms),
      })
      status = response.status
      excerpt = await responseExcerpt(response)
      if (status < 200 || status >= 300) error = `answered ${status}`
    } catch (err) {
      error =
        (err as Error).name === 'TimeoutError' ? `no answer within ${this.settings.timeout_ms} ms` : (err as Error).message.slice(0, 300)
    }
    return { delivery, ok: error === null, status, error, excerpt, final: status === 410, gone: status === 410 }
  }

  /**
   * The deliveries that succeeded: one statement for each answer they share (a receiver answers its
   * deliveries alike, so usually one), and their endpoints' failure clocks stopped in one more.
   */
  async #recordDelivered(scope: TenantScope, delivered: Delivered[]): Promise<void> {
    if (delivered.length === 0) return
    const at = new Date().toISOString()
    const byAnswer = new Map<string, Delivered[]>()
    for (const o of delivered) {
      const answer = `${o.status}\u0000${o.excerpt ?? ''}`
      const same = byAnswer.get(answer)
      if (same) same.push(o)
      else byAnswer.set(answer, [o])
    }
    for (const same of byAnswer.values()) {
      await sql`update webhook_deliveries
        set status = 'delivered', attempts = attempts + 1, last_status = ${same[0]!.status}, last_error = null,
          last_response = ${same[0]!.excerpt ?? null}, locked_until = null, delivered_at = ${at}
        where tenant_id = ${scope.tenantId} and id in (${this.#listed(same.map((o) => o.delivery.id))})`.execute(scope.db)
    }
    await scope.db
      .updateTable('webhook_endpoints')
      .set({ failing_since: null })
      .where('tenant_id', '=', scope.tenantId)
      .where('id', 'in', [...new Set(delivered.map((o) => o.delivery.endpoint_id))])
      .where('failing_since', 'is not', null)
      .execute()
  }

  /**
   * A list of ids as ONE bound value, for `in (…)`: the statement's text is the same whatever the
   * batch's size, so it is compiled and prepared once, not once a batch for its count of placeholders
   * (with one value each to build and bind: measured, most of what recording a batch cost in JS).
   */
  #listed(ids: string[]): RawBuilder<unknown> {
    return this.database.dialect === 'postgres'
      ? sql`select unnest(${ids}::text[])`
      : sql`select value from json_each(${JSON.stringify(ids)})`
  }

  /** Claims given back unsent: due as they were, for the next round. Only while the claim is still this worker's. */
  async #release(scope: TenantScope, released: Delivered[], leaseEnds: number): Promise<void> {
    if (released.length === 0) return
    await sql`update webhook_deliveries set locked_until = null
      where tenant_id = ${scope.tenantId} and locked_until = ${new Date(leaseEnds).toISOString()}
        and id in (${this.#listed(released.map((o) => o.delivery.id))})`.execute(scope.db)
  }

  /**
   * The deliveries that did not succeed: each retried after the schedule's next wait, or failed (one
   * statement of the same text each, prepared once); then each endpoint's failure clock runs, once
   * for all its failures of the batch (a 410 among them disables it).
   */
  async #recordFailed(scope: TenantScope, failed: Delivered[]): Promise<void> {
    if (failed.length === 0) return
    const now = new Date()
    const schedule = this.settings.retry_schedule_ms
    const gone = new Map<string, boolean>()
    for (const outcome of failed) {
      const attempts = outcome.delivery.attempts + 1
      const exhausted = outcome.final || attempts > schedule.length
      const wait = exhausted ? 0 : schedule[attempts - 1]! * (0.8 + Math.random() * 0.4)
      await sql`update webhook_deliveries
        set status = ${exhausted ? 'failed' : 'pending'}, attempts = ${attempts}, next_attempt_at = ${new Date(now.getTime() + wait).toISOString()},
          last_status = ${outcome.status}, last_error = ${outcome.error}, last_response = ${outcome.excerpt ?? null}, locked_until = null
        where tenant_id = ${scope.tenantId} and id = ${outcome.delivery.id}`.execute(scope.db)
      const endpointId = outcome.delivery.endpoint_id
      gone.set(endpointId, gone.get(endpointId) === true || outcome.gone === true)
    }
    for (const [endpointId, wasGone] of gone) await this.#noteFailure(scope, endpointId, now, wasGone)
  }

  /** Starts the endpoint's failure clock, and disables it on 410 or once the clock has run out. */
  async #noteFailure(scope: TenantScope, endpointId: string, now: Date, gone: boolean): Promise<void> {
    const endpoint = await scope.db
      .selectFrom('webhook_endpoints')
      .selectAll()
      .where('tenant_id', '=', scope.tenantId)
      .where('id', '=', endpointId)
      .executeTakeFirst()
    if (!endpoint || !toEndpoint(endpoint).active) return
    const since = endpoint.failing_since ?? now.toISOString()
    const tooLong = now.getTime() - Date.parse(since) >= this.settings.disable_after_seconds * 1000
    if (!gone && !tooLong) {
      if (!endpoint.failing_since)
        await scope.db
          .updateTable('webhook_endpoints')
          .set({ failing_since: since })
          .where('tenant_id', '=', scope.tenantId)
          .where('id', '=', endpointId)
          .execute()
      return
    }
    const reason = gone ? 'the receiver answered 410 Gone' : `no successful delivery since ${since}`
    await scope.db
      .updateTable('webhook_endpoints')
      .set({ active: 0, disabled_reason: reason, failing_since: since, updated_at: now.toISOString() })
      .where('tenant_id', '=', scope.tenantId)
      .where('id', '=', endpointId)
      .execute()
    scope.emit('webhook.endpoint_disabled', { ...toEndpoint({ ...endpoint, active: 0, disabled_reason: reason, failing_since: since }) })
    this.log.warn({ tenantId: scope.tenantId, endpoint: endpointId, reason }, 'webhook endpoint disabled')
  }
}

/** At most `size` of the calls given to `use` run at once; the others wait their turn, in order. */
class Slots {
  #free: number
  readonly #waiting: (() => void)[] = []
  constructor(size: number) {
    this.#free = size
  }
  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--
    else await new Promise<void>((resolve) => this.#waiting.push(resolve))
    try {
      return await fn()
    } finally {
      const next = this.#waiting.shift()
      if (next) next()
      else this.#free++
    }
  }
}
