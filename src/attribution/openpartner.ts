/**
 * OpenPartner's tracking bodies onto partnerd's. Its SDK and clients send an event's `value` as a
 * JSON number (`249`) and its `ts` as epoch milliseconds or ISO 8601, and identify's `ts` as epoch
 * milliseconds; partnerd's decimal strings and ISO times are taken as well, and mean the same. A
 * number becomes the decimal it was written as (money/money.ts decimalOf), which is then judged as
 * any amount is: more decimals than the currency has, or more than the maximum, is a 400, never
 * rounded. What OpenPartner leaves out is the service's to decide (events.ts): no externalEventId,
 * no currency.
 */
import { t } from 'elysia'
import { decimalOf } from '../money/money.ts'
import type { EventInput } from './events.ts'

/** The latest instant a Date holds, in milliseconds since 1970 (ECMAScript's limit). */
const MAX_EPOCH_MS = 8.64e15

export const WireValue = t.Union(
  [
    t.String({ maxLength: 32, description: 'Decimal string, e.g. "49.00"; at most 10^15 minor units.' }),
    t.Number({ description: 'Or a JSON number, e.g. 49 (OpenPartner’s form): no more decimals than the currency has.' }),
  ],
  { description: 'The amount, in currency.' },
)
export const WireTime = t.Union(
  [
    t.String({ maxLength: 40, description: 'ISO 8601 with a zone, e.g. 2026-05-01T12:00:00Z.' }),
    t.Number({ minimum: 0, maximum: MAX_EPOCH_MS, description: 'Or milliseconds since 1970 (OpenPartner’s form).' }),
  ],
  { description: 'When it happened (default: now); at most 5 minutes ahead.' },
)
/** Identify's ts: when the browser called; accepted for OpenPartner's SDK, which sends it. */
export const IdentifyTime = t.Number({
  minimum: 0,
  maximum: MAX_EPOCH_MS,
  description: 'Milliseconds since 1970, as OpenPartner’s SDK sends it; the tie is dated by the server’s clock.',
})

type Wire = { value?: string | number; ts?: string | number }

/** An event body in either shape as partnerd's EventInput (and a coupon redemption's, which extends it). */
export function eventInput<T extends Wire>(body: T): Omit<T, keyof Wire> & Pick<EventInput, 'value' | 'ts'> {
  const { value, ts, ...rest } = body
  return {
    ...rest,
    ...(value !== undefined ? { value: typeof value === 'number' ? decimalOf(value) : value } : {}),
    ...(ts !== undefined ? { ts: typeof ts === 'number' ? new Date(ts).toISOString() : ts } : {}),
  }
}
