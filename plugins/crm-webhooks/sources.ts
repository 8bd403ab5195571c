/**
 * How each CRM proves a webhook is its own, and where a won deal's facts sit in its payload.
 *
 *   hubspot    X-HubSpot-Signature-v3: base64 HMAC-SHA256(client secret, method + URL + body +
 *              X-HubSpot-Request-Timestamp), the timestamp within 5 minutes. The body is an array.
 *   pipedrive  HTTP Basic credentials set on the Pipedrive webhook. A deal is won when
 *              `current.status` becomes `won`.
 *   generic    x-signature: sha256=<hex HMAC-SHA256(secret, body)>, for Salesforce flows and anything
 *              else that can POST JSON.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export type SourceKind = 'hubspot' | 'pipedrive' | 'generic'

export interface SourceConfig {
  kind: SourceKind
  /** hubspot: the app's client secret; generic: the shared secret. */
  secret?: string
  /** pipedrive: the webhook's Basic auth. */
  username?: string
  password?: string
  /** Dotted paths into one payload item. */
  event_id: string
  user_id: string
  value: string
  currency: string
  /** The item is a won deal when the value at `path` equals `equals` (and, optionally, was not before). */
  won_when: { path: string; equals: string; previous_path?: string }
}

/** Defaults per CRM, so a source names only what differs (usually user_id: your customer id field). */
export const DEFAULTS: Record<SourceKind, Omit<SourceConfig, 'kind' | 'user_id'>> = {
  hubspot: {
    event_id: 'eventId',
    value: 'properties.amount',
    currency: 'properties.deal_currency_code',
    won_when: { path: 'propertyValue', equals: 'closedwon' },
  },
  pipedrive: {
    event_id: 'meta.id',
    value: 'current.value',
    currency: 'current.currency',
    won_when: { path: 'current.status', equals: 'won', previous_path: 'previous.status' },
  },
  generic: { event_id: 'id', value: 'amount', currency: 'currency', won_when: { path: 'stage', equals: 'won' } },
}

export function pick(item: unknown, path: string): unknown {
  let value: unknown = item
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Whether the request is the CRM's, by the source's kind of proof. */
export function authentic(source: SourceConfig, request: Request, body: string, now = Date.now()): boolean {
  switch (source.kind) {
    case 'hubspot': {
      const signature = request.headers.get('x-hubspot-signature-v3')
      const timestamp = request.headers.get('x-hubspot-request-timestamp')
      if (!signature || !timestamp || !source.secret || Math.abs(now - Number(timestamp)) > 300_000) return false
      const expected = createHmac('sha256', source.secret).update(`${request.method}${request.url}${body}${timestamp}`).digest('base64')
      return same(signature, expected)
    }
    case 'pipedrive': {
      const header = request.headers.get('authorization') ?? ''
      const expected = `Basic ${Buffer.from(`${source.username}:${source.password}`).toString('base64')}`
      return Boolean(source.username && source.password) && same(header, expected)
    }
    case 'generic': {
      const header = request.headers.get('x-signature') ?? ''
      return Boolean(source.secret) && same(header, `sha256=${createHmac('sha256', source.secret!).update(body).digest('hex')}`)
    }
  }
}
