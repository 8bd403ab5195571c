/**
 * Identify: ties a click (`cref`) to the tenant's own customer id (`userId`). Public, since browsers
 * call it (through /sdk.js) right after sign-up; so a click can be claimed once: a second identify of
 * it with another userId is 409, and nobody can move a customer's click to someone else. Events the
 * customer had before (kept `unattributed`) are attributed now: the backlog.
 */
import { readJson, writeJson } from '../db/codec.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { type Attribution, attribute, triggerOf } from './events.ts'

export interface IdentifyResult {
  cref: string
  userId: string
  /** Earlier events of this customer attributed by this call. */
  attributedEvents: number
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
  if (!click) throw new AppError(404, 'unknown_cref', `no click ${input.cref}`)
  const claimed = await scope.db
    .selectFrom('identities')
    .select('customer_id')
    .where('tenant_id', '=', scope.tenantId)
    .where('click_id', '=', click.id)
    .executeTakeFirst()
  if (claimed) {
    if (claimed.customer_id !== input.userId) throw new AppError(409, 'cref_claimed', 'this click belongs to another customer')
    return { cref: click.id, userId: input.userId, attributedEvents: 0 }
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
  return { cref: click.id, userId: input.userId, attributedEvents: await attributeBacklog(scope, input.userId, click.created_at) }
}

async function attributeBacklog(scope: TenantScope, customerId: string, since: string): Promise<number> {
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
    if (trigger === 'refund' || readJson<Attribution>(event.attribution).status !== 'unattributed') continue
    const { attribution } = await attribute(scope, event, trigger)
    if (attribution.status === 'unattributed') continue
    await scope.db
      .updateTable('events')
      .set({ attribution: writeJson(attribution) })
      .where('tenant_id', '=', scope.tenantId)
      .where('id', '=', event.id)
      .execute()
    attributed++
  }
  return attributed
}
