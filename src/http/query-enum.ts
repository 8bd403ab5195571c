/**
 * One of a few strings, for query parameters. Elysia gives a query `t.UnionEnum` the first value as a
 * default, so `?status` left out would silently filter by it; a union of literals has no default.
 */
import { type TSchema, t } from 'elysia'

export function QueryEnum<const V extends readonly string[]>(values: V, options: { description?: string } = {}) {
  return t.Union(values.map((v) => t.Literal(v)) as unknown as { [K in keyof V]: ReturnType<typeof t.Literal<V[K]>> } & TSchema[], options)
}
