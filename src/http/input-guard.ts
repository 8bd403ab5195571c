/**
 * What every request's input is checked for before a route reads it, on both databases alike:
 *
 * - The NUL character (U+0000). PostgreSQL's text and jsonb cannot hold it: a value carrying one
 *   fails its whole statement, which would answer 500 on PostgreSQL and store it on SQLite. The click
 *   router, which answers every visitor, drops it from what it stores instead (links/router.ts); a
 *   NUL reaching PostgreSQL by another way is told apart by isNulRefusal (db/errors.ts).
 * - A lone surrogate (half of a UTF-16 pair, as JSON's `"\ud800"` spells it): it is no character,
 *   cannot be written as UTF-8, and each database would store something else than was sent (SQLite
 *   U+FFFD, PostgreSQL a refusal). Refused rather than silently changed.
 * - Nesting deeper than MAX_DEPTH. No field of the API nests that deep, and code that walks a value
 *   by recursion (JSON.stringify, the event hash) would overflow the stack on a body nested 100k
 *   deep, which fits in the body limit.
 * - A body that is not a JSON object: `null`, `[]`, `123`, `true`. Every JSON body of the API is an
 *   object, and Elysia, filling in an object schema's defaults (Elysia's own t.Integer carries one),
 *   copies the body into a fresh object first: `null` or `[]` came out as `{}`, which a route whose
 *   fields are all optional (POST /payouts/run) took for "run with the defaults". A route that reads
 *   its own body as text (a Stripe or CRM webhook, whose signature covers the raw bytes) gets a
 *   string, which is left to that route.
 *
 * The walk itself uses no recursion.
 */
import { AppError } from '../errors.ts'

const NUL = '\u0000'
const MAX_DEPTH = 32

/** Throws a 400 for a body that is not an object, or naming where the path parameters, query or body carry a NUL or nest too deep. */
export function checkInput(input: { params?: unknown; query?: unknown; body?: unknown }): void {
  const { body } = input
  if (body === null || typeof body === 'number' || typeof body === 'boolean' || Array.isArray(body)) {
    throw new AppError(400, 'invalid_request', `body: must be a JSON object (got ${Array.isArray(body) ? 'an array' : String(body)})`)
  }
  for (const part of ['params', 'query', 'body'] as const) {
    const stack: [unknown, string, number][] = [[input[part], part, 0]]
    while (stack.length > 0) {
      const [value, path, depth] = stack.pop()!
      if (typeof value === 'string') {
        if (value.includes(NUL)) throw new AppError(400, 'invalid_request', `${path}: text may not contain the NUL character (\\u0000)`)
        if (!value.isWellFormed())
          throw new AppError(400, 'invalid_request', `${path}: text must be well-formed Unicode (a lone surrogate is not)`)
      } else if (value && typeof value === 'object') {
        if (depth === MAX_DEPTH) throw new AppError(400, 'invalid_request', `${path}: nested deeper than ${MAX_DEPTH} levels`)
        for (const [key, child] of Object.entries(value)) {
          if (key.includes(NUL) || !key.isWellFormed())
            throw new AppError(400, 'invalid_request', `${path}: a key may not contain the NUL character (\\u0000) or a lone surrogate`)
          stack.push([child, `${path}.${key}`, depth + 1])
        }
      }
    }
  }
}

/** `text` without NULs, for what the router stores from a visitor's request. */
export function withoutNul(text: string): string {
  return text.includes(NUL) ? text.replaceAll(NUL, '') : text
}
