/**
 * The outbox: a tenant transaction that raised domain events writes, before it commits, one delivery
 * per (event, subscribed endpoint). The deliveries therefore exist exactly when the change does.
 * Each is written in its endpoint's format: partnerd's envelope `{id, type, created, data}` (Standard
 * Webhooks, postbacks), or OpenPartner's `{id, event, created, data}` under its event names
 * (openpartner-format.ts), whose id is the delivery's own `evt_…`.
 */
import type { Transaction } from 'kysely'
import { readJson } from '../db/codec.ts'
import type { DB } from '../db/schema.ts'
import { isPostgres } from '../db/tenant-isolation.ts'
import type { DomainEvent } from '../domain-events/bus.ts'
import { newId } from '../ids.ts'
import { openPartnerBody, openPartnerMessages, openPartnerName } from './openpartner-format.ts'
import type { WebhookFormat } from './signing.ts'

export interface Envelope {
  id: string
  type: string
  created: string
  data: unknown
}

/** The deliveries of one envelope to one endpoint, in the endpoint's format. */
export function deliveryRows(
  tenantId: string,
  endpoint: { id: string; format: WebhookFormat },
  envelope: Envelope,
  now: string,
): DB['webhook_deliveries'][] {
  if (endpoint.format !== 'openpartner')
    return [deliveryRow(tenantId, endpoint.id, newId('webhookMessage'), envelope.type, JSON.stringify(envelope), now)]
  return openPartnerMessages(envelope.type, envelope.data).map((message) => {
    const id = newId('openPartnerMessage')
    return deliveryRow(tenantId, endpoint.id, id, message.event, openPartnerBody(id, message, envelope.created), now)
  })
}

function deliveryRow(
  tenantId: string,
  endpointId: string,
  id: string,
  eventType: string,
  payload: string,
  now: string,
): DB['webhook_deliveries'] {
  return {
    id,
    tenant_id: tenantId,
    endpoint_id: endpointId,
    event_type: eventType,
    payload,
    status: 'pending',
    attempts: 0,
    next_attempt_at: now,
    locked_until: null,
    last_status: null,
    last_error: null,
    last_response: null,
    created_at: now,
    delivered_at: null,
  }
}

export async function enqueueDeliveries(trx: Transaction<DB>, tenantId: string, events: DomainEvent[]): Promise<void> {
  // On PostgreSQL the endpoints are read FOR KEY SHARE (the lock each new delivery's foreign key takes
  // anyway), in id order: an endpoint deleted meanwhile is then either kept until this commits, or
  // skipped once its delete has, rather than found here and gone at the insert (a foreign-key error:
  // the change that raised the events would fail with a 500).
  const endpoints = await trx
    .selectFrom('webhook_endpoints')
    .select(['id', 'events', 'partner_id', 'format'])
    .where('tenant_id', '=', tenantId)
    .where('active', '=', 1)
    .orderBy('id')
    .$if(isPostgres(trx), (q) => q.forKeyShare())
    .execute()
  if (endpoints.length === 0) return
  const now = new Date().toISOString()
  const rows: DB['webhook_deliveries'][] = []
  for (const event of events) {
    const envelope: Envelope = { id: newId('webhookEvent'), type: event.type, created: event.occurredAt, data: event.data }
    for (const endpoint of endpoints) {
      const wanted = readJson<string[]>(endpoint.events)
      // An OpenPartner-format endpoint subscribed by OpenPartner's names.
      const name = endpoint.format === 'openpartner' ? openPartnerName(event.type) : event.type
      if (!wanted.includes('*') && !wanted.includes(name)) continue
      // A partner's postback hears only of that partner's commissions.
      if (endpoint.partner_id && (event.data as { partnerId?: string } | null)?.partnerId !== endpoint.partner_id) continue
      rows.push(...deliveryRows(tenantId, endpoint, envelope, now))
    }
  }
  for (let i = 0; i < rows.length; i += 200)
    await trx
      .insertInto('webhook_deliveries')
      .values(rows.slice(i, i + 200))
      .execute()
}
