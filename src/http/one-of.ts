/**
 * One of a few strings, for any schema: request, response or OpenAPI. Elysia's own `t.UnionEnum`
 * carries its first value as a `default`, and Elysia fills every default into the input before a
 * route sees it: a body without `role` (even a required one) came in as `owner`, a PATCH naming one
 * field reset the others, a query without `?status` filtered by the first status. OneOf is the same
 * schema (an `enum` in the document, "must be one of …" in errors) without the default.
 *
 * Request schemas carry no defaults at all (app.ts refuses one at start): what a client left out
 * stays left out, and the service decides what absence means.
 */
import { t } from 'elysia'

export function OneOf<const V extends readonly [string, ...string[]]>(values: V, options: { description?: string } = {}) {
  const schema = t.UnionEnum(values, options)
  delete (schema as { default?: unknown }).default
  return schema
}
