/**
 * Stripe's webhook signature: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.payload">`
 * (several v1 during a secret roll), keyed with the endpoint's `whsec_` secret as is. Checked in
 * constant time, with a tolerance on the timestamp so a captured request cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export function verifyStripeSignature(
  payload: string,
  header: string | null,
  secret: string,
  toleranceSeconds: number,
  now = Date.now(),
): boolean {
  if (!header) return false
  const parts = header.split(',').map((p) => p.split('=') as [string, string])
  const timestamp = Number(parts.find(([k]) => k === 't')?.[1])
  const signatures = parts.filter(([k]) => k === 'v1').map(([, v]) => v)
  if (!Number.isInteger(timestamp) || signatures.length === 0) return false
  if (Math.abs(now / 1000 - timestamp) > toleranceSeconds) return false
  const expected = Buffer.from(createHmac('sha256', secret).update(`${timestamp}.${payload}`).digest('hex'))
  return signatures.some((s) => s.length === expected.length && timingSafeEqual(Buffer.from(s), expected))
}
