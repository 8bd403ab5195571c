/**
 * Identify: ties a click (`cref`) to the tenant's own customer id (`userId`). Public, since browsers
 * call it (through /sdk.js, or OpenPartner's SDK) right after sign-up; so a click can be claimed once:
 * a second identify of it with another userId is 409, and nobody can move a customer's click to
 * someone else (OpenPartner let any number of customers share a click). The same identify again is
 * answered as it is, not a first stitch. Events the customer had before (kept unattributed) are
 * attributed now: the backlog.
 */
import { readJson, writeJson } from '../db/codec.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { ID_PREFIX } from '../ids.ts'
import { type Attribution, attribute, CLICK_GRACE_MS, isUnattributed, triggerOf } from './events.ts'

export interface IdentifyResult {
  cref: string
  userId: string
  /** Earlier events of this customer attributed by this call. */
  attributedEvents: number
  /** OpenPartner's names: the tie made by this call (null when it was made before), and the backlog attributed. */
  identityId: string | null
  firstStitch: boolean
  backfilledAttributions: number
}

/** A click is tied to one customer at most, so the tie is named after its click: `idn_` and the click's ULID. */
function identityIdOf(clickId: string): string {
  return `idn_${clickId.slice(ID_PREFIX.click.length)}`
}

export async function identify(
  scope: TenantScope,
  input: { cref: string; userId: string; ipHash: string | null },
): Promise<IdentifyResult> {
  const click = await scope.db
    .selectFrom('clicks')
    .select(['id', 'created_at'])
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', input.cref)
    .executeTakeFirst()
  if (!click) throw new AppError(404, 'click_not_found', `no click ${input.cref}`)
  const claimed = await scope.db
    .selectFrom('identities')
    .select('customer_id')
    .where('tenant_id', '=', scope.tenantId)
    .where('click_id', '=', click.id)
    .executeTakeFirst()
  if (claimed) {
    if (claimed.customer_id !== input.userId) throw new AppError(409, 'cref_claimed', 'this click belongs to another customer')
    return { cref: click.id, userId: input.userId, attributedEvents: 0, identityId: null, firstStitch: false, backfilledAttributions: 0 }
  }
  await scope.db
    .insertInto('identities')
    .values({
      tenant_id: scope.tenantId,
      click_id: click.id,
      customer_id: input.userId,
      ip_hash: input.ipHash,
      created_at: new Date().toISOString(),
    })
    .execute()
  const attributed = await attributeBacklog(scope, input.userId, click.created_at)
  return {
    cref: click.id,
    userId: input.userId,
    attributedEvents: attributed,
    identityId: identityIdOf(click.id),
    firstStitch: true,
    backfilledAttributions: attributed,
  }
}

/** The customer's events from shortly before the click on (events.ts: CLICK_GRACE_MS) that wait for one. */
async function attributeBacklog(scope: TenantScope, customerId: string, clickedAt: string): Promise<number> {
  const since = new Date(Date.parse(clickedAt) - CLICK_GRACE_MS).toISOString()
  const waiting: DB['events'][] = await scope.db
    .selectFrom('events')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('customer_id', '=', customerId)
    .where('occurred_at', '>=', since)
    .orderBy('occurred_at')
    .orderBy('id')
    .execute()
  let attributed = 0
  for (const event of waiting) {
    const trigger = triggerOf(event.type)
    const before = readJson<Attribution>(event.attribution)
    if (trigger === 'refund' || !isUnattributed(before)) continue
    const { attribution } = await attribute(scope, event, trigger)
    // Still waiting, perhaps for another reason now (the click is outside the window): kept so.
    if (attribution.status === before.status) continue
    await scope.db
      .updateTable('events')
      .set({ attribution: writeJson(attribution) })
      .where('tenant_id', '=', scope.tenantId)
      .where('id', '=', event.id)
      .execute()
    if (!isUnattributed(attribution)) attributed++
  }
  return attributed
}
