/**
 * Webhook endpoints of a tenant: where its domain events go. The secret is shown when the endpoint is
 * made and when it is rotated, and never again; after a rotation the old secret keeps signing, beside
 * the new one, for webhooks.rotation_overlap_seconds, so receivers can switch without losing a message.
 * Signing needs the secret itself, so it is stored sealed (src/secrets/), bound to its endpoint's row.
 */
import { readBool, readJson, writeJson } from '../db/codec.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import type { Keyring } from '../secrets/keyring.ts'
import { checkOpenPartnerEvents } from './openpartner-format.ts'
import { newWebhookSecret, type WebhookFormat } from './signing.ts'
import { assertPublicDestination, parseWebhookUrl } from './ssrf.ts'

type Row = DB['webhook_endpoints']

export interface WebhookEndpoint {
  id: string
  url: string
  events: string[]
  label: string | null
  format: WebhookFormat
  active: boolean
  disabledReason: string | null
  failingSince: string | null
  createdAt: string
  updatedAt: string
}

export function toEndpoint(row: Row): WebhookEndpoint {
  return {
    id: row.id,
    url: row.url,
    events: readJson<string[]>(row.events),
    label: row.label,
    format: row.format,
    active: readBool(row.active),
    disabledReason: row.disabled_reason,
    failingSince: row.failing_since,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

/** An endpoint's events: well-formed types; for an OpenPartner-format endpoint, ones it can receive. */
function checkEvents(events: string[], format: WebhookFormat): string[] {
  const unique = [...new Set(events)]
  if (unique.length === 0) throw new AppError(400, 'invalid_events', 'events: give at least one event type, or *')
  for (const e of unique)
    if (e !== '*' && !/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*$/.test(e))
      throw new AppError(400, 'invalid_events', `events: ${e} is not an event type`)
  if (format === 'openpartner') checkOpenPartnerEvents(unique)
  return unique
}

export async function endpointRow(scope: TenantScope, id: string): Promise<Row> {
  const row = await scope.db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (!row) throw new AppError(404, 'not_found', `no webhook endpoint ${id}`)
  return row
}

export async function createEndpoint(
  scope: TenantScope,
  input: { url: string; events: string[]; label?: string; format?: WebhookFormat },
  allowHosts: readonly string[],
): Promise<WebhookEndpoint & { secret: string }> {
  const format = input.format ?? 'standard'
  const events = checkEvents(input.events, format)
  const url = parseWebhookUrl(input.url)
  await assertPublicDestination(url, allowHosts)
  const { row, secret } = await insertEndpoint(scope, {
    url: url.toString(),
    events,
    label: input.label?.trim() || null,
    format,
    partnerId: null,
  })
  return { ...toEndpoint(row), secret }
}

/** Stores a new, active endpoint with a fresh secret (checked input: webhooks and postbacks alike); answers the secret in plaintext. */
export async function insertEndpoint(
  scope: TenantScope,
  fields: { url: string; events: string[]; label: string | null; format: WebhookFormat; partnerId: string | null },
): Promise<{ row: Row; secret: string }> {
  const now = new Date().toISOString()
  const id = newId('webhookEndpoint')
  const secret = newWebhookSecret()
  const row: Row = {
    id,
    tenant_id: scope.tenantId,
    url: fields.url,
    events: writeJson(fields.events),
    label: fields.label,
    format: fields.format,
    secret: scope.secrets.seal(secret, { table: 'webhook_endpoints', id }),
    previous_secret: null,
    previous_secret_until: null,
    active: 1,
    disabled_reason: null,
    failing_since: null,
    created_at: now,
    updated_at: now,
    partner_id: fields.partnerId,
  }
  await scope.db.insertInto('webhook_endpoints').values(row).execute()
  return { row, secret }
}

export async function listEndpoints(scope: TenantScope): Promise<WebhookEndpoint[]> {
  const rows = await scope.db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('partner_id', 'is', null)
    .orderBy('id')
    .execute()
  return rows.map(toEndpoint)
}

export async function updateEndpoint(
  scope: TenantScope,
  id: string,
  changes: { url?: string; events?: string[]; label?: string | null; active?: boolean },
  allowHosts: readonly string[],
): Promise<WebhookEndpoint> {
  const row = await endpointRow(scope, id)
  const set: Partial<Row> = { updated_at: new Date().toISOString() }
  if (changes.url !== undefined) {
    const url = parseWebhookUrl(changes.url)
    await assertPublicDestination(url, allowHosts)
    set.url = url.toString()
  }
  if (changes.events !== undefined) set.events = writeJson(checkEvents(changes.events, row.format))
  if (changes.label !== undefined) set.label = changes.label?.trim() || null
  if (changes.active !== undefined) {
    set.active = changes.active ? 1 : 0
    // Switching an endpoint back on starts its failure clock afresh.
    if (changes.active) Object.assign(set, { disabled_reason: null, failing_since: null })
  }
  await scope.db.updateTable('webhook_endpoints').set(set).where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute()
  return toEndpoint({ ...row, ...set } as Row)
}

/**
 * Deletes the endpoint and, by the foreign key's cascade, its deliveries: the endpoint's row is locked
 * first, then its deliveries. Every transaction that touches both keeps that order (the delivery
 * worker's recording takes its endpoints' rows first, worker.ts), so none deadlocks with a delete.
 */
export async function deleteEndpoint(scope: TenantScope, id: string): Promise<void> {
  const result = await scope.db
    .deleteFrom('webhook_endpoints')
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (Number(result.numDeletedRows) !== 1) throw new AppError(404, 'not_found', `no webhook endpoint ${id}`)
}

export async function rotateSecret(scope: TenantScope, id: string, overlapSeconds: number): Promise<WebhookEndpoint & { secret: string }> {
  const row = await endpointRow(scope, id)
  const now = new Date()
  const secret = newWebhookSecret()
  const set = {
    secret: scope.secrets.seal(secret, { table: 'webhook_endpoints', id }),
    // Sealed for this row already: it moves over as it is.
    previous_secret: overlapSeconds > 0 ? row.secret : null,
    previous_secret_until: overlapSeconds > 0 ? new Date(now.getTime() + overlapSeconds * 1000).toISOString() : null,
    updated_at: now.toISOString(),
  }
  await scope.db.updateTable('webhook_endpoints').set(set).where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute()
  return { ...toEndpoint({ ...row, ...set }), secret }
}

/** The secrets that sign now, opened: the current one, and the previous one inside its overlap. */
export function signingSecrets(row: Row, secrets: Keyring, now = new Date()): string[] {
  const at = { table: 'webhook_endpoints', id: row.id } as const
  return row.previous_secret && row.previous_secret_until && row.previous_secret_until > now.toISOString()
    ? [secrets.open(row.secret, at), secrets.open(row.previous_secret, at)]
    : [secrets.open(row.secret, at)]
}
