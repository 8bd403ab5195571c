/**
 * How deliveries are signed. Standard Webhooks (what the `standardwebhooks` and `svix` verifiers
 * check): `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 of
 * HMAC-SHA256 over "id.timestamp.body">`, the key being the base64 part of the `whsec_` secret; during
 * a rotation both secrets sign, space-separated. OpenPartner's header set, for clients written against
 * it: `x-openpartner-event`, `-delivery`, `-timestamp`, and `-signature`, the hex HMAC-SHA256 of
 * "timestamp.body" keyed with the whole secret.
 */
import { randomBytes } from 'node:crypto'

export type WebhookFormat = 'standard' | 'openpartner' | 'postback'

export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`
}

/** One attempt's headers, from what changes between attempts and deliveries. */
export type Signer = (input: { id: string; type: string; body: string; timestamp: number }) => Record<string, string>

function hmacSha256(key: Uint8Array | string, message: string, encoding: 'base64' | 'hex'): string {
  // Bun's own HMAC: a third cheaper than node:crypto's createHmac for these short messages (measured).
  return new Bun.CryptoHasher('sha256', key).update(message).digest(encoding)
}

/**
 * Signs for one endpoint's secrets (the current one and, during a rotation, the previous one). The
 * keys are decoded once here, not once per delivery: the worker makes one signer per endpoint a batch.
 */
export function signer(format: WebhookFormat, secrets: string[]): Signer {
  if (format === 'openpartner') {
    const key = secrets[0]!
    return ({ id, type, body, timestamp }) => ({
      'x-openpartner-event': type,
      'x-openpartner-delivery': id,
      'x-openpartner-timestamp': String(timestamp),
      'x-openpartner-signature': hmacSha256(key, `${timestamp}.${body}`, 'hex'),
    })
  }
  const keys = secrets.map((s) => Buffer.from(s.slice('whsec_'.length), 'base64'))
  return ({ id, body, timestamp }) => {
    const message = `${id}.${timestamp}.${body}`
    return {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': keys.map((key) => `v1,${hmacSha256(key, message, 'base64')}`).join(' '),
    }
  }
}
