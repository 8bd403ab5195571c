/**
 * The tenant API's route table: who added each route, and the rules every route keeps whoever added
 * it, checked once as the routes are registered, so a breach stops the start rather than a request.
 *
 * - One owner per route. Elysia lets a later route of the same method and path replace an earlier
 *   one without a word: a plugin registering `GET /programs` without `auth` would answer for the
 *   core's route, to anyone. A route someone else registered first stops the start, naming both.
 * - No defaults in request schemas. Elysia fills a schema's defaults into the input before the route
 *   sees it, so a default in a body turns "left out" into a value the client never sent (a PATCH
 *   naming one field would reset the others). Absence is the service's to interpret (see one-of.ts).
 */
import type { TSchema } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { StartupError } from '../errors.ts'
import type { TenantApi, TenantRoutes } from './tenant-api.ts'

/** A part of partnerd that adds routes: `core`, or `plugin <name>`. */
export interface OwnedRoutes {
  owner: string
  register: TenantRoutes
}

type Route = TenantApi['routes'][number]
const REQUEST_PARTS = ['body', 'query', 'params', 'headers', 'cookie'] as const

/** `GET /api/programs/:` for `GET /api/programs/:id`: paths that differ only in parameter names are the same route. */
function routeKey(route: Pick<Route, 'method' | 'path'>): string {
  return `${route.method} ${route.path.replace(/\/:[^/]+/g, '/:')}`
}

export function registerRoutes(api: TenantApi, parts: readonly OwnedRoutes[]): void {
  const owners = new Map<string, { owner: string; route: Route }>()
  for (const { owner, register } of parts) {
    register(api)
    for (const route of api.routes) {
      const key = routeKey(route)
      const known = owners.get(key)
      if (!known) {
        owners.set(key, { owner, route })
        assertNoDefaults(route, owner)
      } else if (known.route !== route) {
        throw new StartupError(`${owner}: the route ${route.method} ${route.path} is already registered by ${known.owner}`)
      }
    }
  }
}

function assertNoDefaults(route: Route, owner: string): void {
  const hooks = route.hooks as Partial<Record<(typeof REQUEST_PARTS)[number], unknown>>
  for (const part of REQUEST_PARTS) {
    const at = defaultIn(hooks[part], part)
    if (at) {
      throw new StartupError(
        `${owner}: the route ${route.method} ${route.path} gives ${at} a default; request schemas carry none (leave the value out and decide in the route)`,
      )
    }
  }
}

/**
 * The path of the first `default` in a schema that Elysia would fill in, or undefined. In a union,
 * TypeBox keeps a branch's default only when it passes that branch: Elysia's `t.Integer` is a union
 * of a numeric string defaulting to the number 0 (never a string) and an integer, so it fills nothing.
 */
function defaultIn(schema: unknown, path: string, inUnion = false): string | undefined {
  if (!schema || typeof schema !== 'object') return undefined
  if (Object.hasOwn(schema, 'default')) {
    const branch = schema as TSchema
    if (!inUnion || Value.Check(branch, branch.default)) return path
  }
  const s = schema as {
    properties?: Record<string, unknown>
    patternProperties?: Record<string, unknown>
    items?: unknown
    anyOf?: unknown[]
    allOf?: unknown[]
  }
  const children: [unknown, string][] = [
    ...Object.entries(s.properties ?? {}).map(([name, child]): [unknown, string] => [child, `${path}.${name}`]),
    ...Object.values(s.patternProperties ?? {}).map((child): [unknown, string] => [child, `${path}.*`]),
    [s.items, `${path}[]`],
    ...(s.allOf ?? []).map((child): [unknown, string] => [child, path]),
  ]
  for (const [child, at] of children) {
    const found = defaultIn(child, at)
    if (found) return found
  }
  for (const branch of s.anyOf ?? []) {
    const found = defaultIn(branch, path, true)
    if (found) return found
  }
  return undefined
}
