import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { getPartner } from '../partners/service.ts'
import { insertEndpoint, toEndpoint, type WebhookEndpoint } from './endpoints.ts'
import type { Envelope } from './outbox.ts'
import { assertPublicDestination, parseWebhookUrl } from './ssrf.ts'

export const POSTBACK_EVENTS = ['commission.accrued', 'commission.approved', 'commission.paid', 'commission.reversed']

/** Each macro and where its value comes from in a commission event. */
const MACROS: Record<string, (data: Record<string, unknown>, envelope: Envelope) => unknown> = {
  click_id: (d) => d.clickId,
  commission_id: (d) => d.id,
  commission_amount: (d) => d.amount,
  currency: (d) => d.currency,
  commission_status: (d) => d.status,
  event_type: (_d, e) => e.type,
  event_id: (d) => d.eventId,
  partner_id: (d) => d.partnerId,
  program_id: (d) => d.programId,
  customer_id: (d) => d.userId,
  delivery_id: (_d, e) => e.id,
}
export const POSTBACK_MACROS = Object.keys(MACROS)

/** The template with each `{macro}` replaced by its URL-encoded value (empty when the event has none). */
export function expandPostback(template: string, envelope: Envelope): string {
  const data = (envelope.data ?? {}) as Record<string, unknown>
  return template.replace(/\{([a-z_]+)\}/g, (whole, name: string) => {
    const value = MACROS[name]?.(data, envelope)
    return MACROS[name] ? encodeURIComponent(value === undefined || value === null ? '' : String(value)) : whole
  })
}

async function checkTemplate(template: string, allowHosts: readonly string[]): Promise<string> {
  const unknown = [...template.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]!).filter((name) => !MACROS[name])
  if (unknown.length > 0)
    throw new AppError(400, 'invalid_url', `unknown macros ${unknown.join(', ')}; known: ${POSTBACK_MACROS.join(', ')}`)
  // Macros fill the path and query only: the host is checked as written.
  const sample = parseWebhookUrl(template.replace(/\{[a-z_]+\}/g, 'x'))
  if (/^[a-z]+:\/\/[^/?#]*\{/i.test(template)) {
    throw new AppError(400, 'invalid_url', 'macros go in the path or the query, not the host')
  }
  await assertPublicDestination(sample, allowHosts)
  return template
}

export async function createPostback(
  scope: TenantScope,
  partnerId: string,
  input: { url: string; events?: string[] },
  allowHosts: readonly string[],
): Promise<WebhookEndpoint> {
  await getPartner(scope, partnerId)
  const events = input.events ?? POSTBACK_EVENTS
  const outside = events.filter((e) => !POSTBACK_EVENTS.includes(e))
  if (outside.length > 0) throw new AppError(400, 'invalid_events', `postbacks fire on ${POSTBACK_EVENTS.join(', ')}`)
  // The secret every endpoint gets is unused by GET postbacks.
  const { row } = await insertEndpoint(scope, {
    url: await checkTemplate(input.url, allowHosts),
    events: [...new Set(events)],
    label: 'postback',
    format: 'postback',
    partnerId,
  })
  return toEndpoint(row)
}

export async function listPostbacks(scope: TenantScope, partnerId: string): Promise<WebhookEndpoint[]> {
  const rows = await scope.db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', '=', partnerId)
    .orderBy('id')
    .execute()
  return rows.map(toEndpoint)
}

export async function deletePostback(scope: TenantScope, partnerId: string, id: string): Promise<void> {
  const result = await scope.db
    .deleteFrom('webhook_endpoints')
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', '=', partnerId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (Number(result.numDeletedRows) !== 1) throw new AppError(404, 'not_found', `no postback ${id}`)
}
