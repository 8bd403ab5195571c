/** The delivery log of an endpoint, and sending again what failed. */
import { fetchPage, type Page, type PageRequest, sliced } from '../db/pagination.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { endpointRow } from './endpoints.ts'
import { deliveryRows } from './outbox.ts'

type Row = DB['webhook_deliveries']

export interface Delivery {
  id: string
  endpointId: string
  eventType: string
  status: Row['status']
  attempts: number
  nextAttemptAt: string | null
  lastStatus: number | null
  lastError: string | null
  /** The start of the receiver's last answer. */
  lastResponse: string | null
  /** The same as lastStatus (OpenPartner's name for it). */
  httpStatus: number | null
  createdAt: string
  deliveredAt: string | null
  payload: unknown
}

function toDelivery(row: Row): Delivery {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    eventType: row.event_type,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
    lastStatus: row.last_status,
    lastError: row.last_error,
    lastResponse: row.last_response,
    httpStatus: row.last_status,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
    payload: JSON.parse(row.payload),
  }
}

export async function listDeliveries(
  scope: TenantScope,
  endpointId: string,
  filter: PageRequest & { status?: Row['status'] },
): Promise<Page<Delivery>> {
  await endpointRow(scope, endpointId)
  const page = await fetchPage(filter, (slice) => {
    let q = scope.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('tenant_id', '=', scope.tenantId)
      .where('endpoint_id', '=', endpointId)
    if (filter.status) q = q.where('status', '=', filter.status)
    return sliced(q, slice).execute()
  })
  return { items: page.items.map(toDelivery), nextCursor: page.nextCursor }
}

/** Sends a delivery again soon: the same webhook-id, so a receiver that had it drops the repeat. */
export async function retryDelivery(scope: TenantScope, endpointId: string, deliveryId: string): Promise<Delivery> {
  const row = await scope.db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('endpoint_id', '=', endpointId)
    .where('id', '=', deliveryId)
    .executeTakeFirst()
  if (!row) throw new AppError(404, 'not_found', `no delivery ${deliveryId}`)
  if (row.status === 'pending') return toDelivery(row)
  const set = { status: 'pending' as const, next_attempt_at: new Date().toISOString(), locked_until: null }
  await scope.db.updateTable('webhook_deliveries').set(set).where('tenant_id', '=', scope.tenantId).where('id', '=', deliveryId).execute()
  return toDelivery({ ...row, ...set })
}

export async function retryFailed(scope: TenantScope, endpointId: string): Promise<number> {
  await endpointRow(scope, endpointId)
  const result = await scope.db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', next_attempt_at: new Date().toISOString(), locked_until: null })
    .where('tenant_id', '=', scope.tenantId)
    .where('endpoint_id', '=', endpointId)
    .where('status', '=', 'failed')
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/** A `webhook.test` message to this endpoint alone, in its format, through the same delivery machinery. */
export async function sendTest(scope: TenantScope, endpointId: string): Promise<Delivery> {
  const endpoint = await endpointRow(scope, endpointId)
  const now = new Date().toISOString()
  const [row] = deliveryRows(
    scope.tenantId,
    endpoint,
    { id: newId('webhookEvent'), type: 'webhook.test', created: now, data: { endpointId } },
    now,
  )
  await scope.db.insertInto('webhook_deliveries').values(row!).execute()
  return toDelivery(row!)
}
