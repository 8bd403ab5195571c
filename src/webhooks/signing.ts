/**
 * How deliveries are signed. Standard Webhooks (what the `standardwebhooks` and `svix` verifiers
 * check): `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 of
 * HMAC-SHA256 over "id.timestamp.body">`, the key being the base64 part of the `whsec_` secret; during
 * a rotation both secrets sign, space-separated. OpenPartner's header set, for clients written against
 * it: `x-openpartner-event`, `-delivery`, `-timestamp`, and `-signature`, the hex HMAC-SHA256 of
 * "timestamp.body" keyed with the whole secret.
 */
import { createHmac, randomBytes } from 'node:crypto'

export type WebhookFormat = 'standard' | 'openpartner' | 'postback'

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`
}

function standardSignature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`
}

/** Headers for one attempt; `secrets` are the current secret and, during a rotation, the previous one. */
export function signedHeaders(
  format: WebhookFormat,
  input: { id: string; type: string; body: string; secrets: string[]; timestamp: number },
): Record<string, string> {
  const { id, type, body, secrets, timestamp } = input
  if (format === 'openpartner') {
    return {
      'x-openpartner-event': type,
      'x-openpartner-delivery': id,
      'x-openpartner-timestamp': String(timestamp),
      'x-openpartner-signature': createHmac('sha256', secrets[0]!).update(`${timestamp}.${body}`).digest('hex'),
    }
  }
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': secrets.map((s) => standardSignature(s, id, timestamp, body)).join(' '),
  }
}
