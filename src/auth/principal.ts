/**
 * Who is calling. Every authenticated request has exactly one principal, produced by an auth strategy
 * and checked by the one `auth` guard (guard.ts) against what the route declares.
 */

import type { WithTenant } from '../db/with-tenant.ts'
import type { Tenant } from '../tenants/service.ts'

export interface Principal {
  /** `admin` (a configured admin key), `api_key`, or a kind added by a strategy plugin. */
  kind: string
  id: string
  /** The tenant the principal belongs to; null for the operator-level admin key, valid on every tenant. */
  tenantId: string | null
  /** Granted scopes; `*` grants all. */
  scopes: readonly string[]
  /** Role within the tenant, for principals that are people (set by user strategies). */
  role?: string
  /** The session a cookie-authenticated person is using. */
  sessionId?: string
  /** Set when the principal is a partner (a portal user, or a key bound to a partner): it acts only as this partner. */
  partnerId?: string
  /** Set for a key bound to one program: it sees and records only that program's data. */
  programId?: string
}

/**
 * A principal answered to many requests (a remembered key's, an admin key's), frozen with its scopes
 * so that no request can change what the next one is granted.
 */
export function sharedPrincipal(principal: Principal): Principal {
  Object.freeze(principal.scopes)
  return Object.freeze(principal)
}

/** What may come at once (a credential remembered) or later (one read first). */
export type MaybePromise<T> = T | Promise<T>

/**
 * Who acts, for which tenant: what a route hands the plugin host's facets (`{ tenant, principal }`
 * from its context), so that they apply the caller's scopes and program binding themselves.
 */
export interface Caller {
  tenant: Pick<Tenant, 'id'>
  principal: Principal
}

export interface AuthInput {
  request: Request
  /** The tenant the request addresses, resolved from the URL before authentication. */
  tenant: Tenant
  withTenant: WithTenant
}

/**
 * An authentication strategy. `authenticate` returns null when the request carries no credential it
 * knows, so the next strategy may try; it throws AppError 401 when the request carries one of its
 * credentials that is wrong, expired or revoked, so a bad key never falls through to another strategy.
 * It may answer at once (a credential it remembers) or with a promise; the guard awaits only the latter.
 */
export interface AuthStrategy {
  name: string
  authenticate(input: AuthInput): MaybePromise<Principal | null>
}
