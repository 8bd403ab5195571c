/**
 * The tenant-scoped API: `/api` in single mode, `/api/t/<slug>` in multi mode. Every route mounted on
 * it knows its tenant (resolved from the URL before validation, so an unknown slug is a 404 whatever
 * the body) and reaches the database only through `withTenant`, bound to that tenant. The `auth`
 * macro is defined here once; routes declare what they need and the guard decides.
 */
import { Elysia } from 'elysia'
import { type AuthRequirement, authenticate, authorize, securityOf } from '../auth/guard.ts'
import type { AuthStrategy, Principal } from '../auth/principal.ts'
import type { BatchWork } from '../db/group-commit.ts'
import type { TenantScope, TenantTransactionOptions, WithTenant } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import type { TenantResolver } from '../tenants/resolver.ts'
import type { Tenant } from '../tenants/service.ts'
import { clientAddress, type TrustProxy } from './client-address.ts'

export interface TenantApiOptions {
  mode: 'single' | 'multi'
  /** Single mode: the one tenant. Multi mode: looks a slug up (cached by the caller). */
  resolveTenant: TenantResolver
  withTenant: WithTenant
  strategies: readonly AuthStrategy[]
  /** Read X-Forwarded-For for the client's address (server.trust_proxy). */
  trustProxy: TrustProxy
}

export function apiBasePath(mode: 'single' | 'multi'): string {
  return mode === 'single' ? '/api' : '/api/t/:slug'
}

/** What every tenant route's context carries. */
export type TenantContext = {
  tenant: Tenant
  /**
   * The request's tenant transaction: the only way to tenant data. Read-only for a GET or HEAD, as
   * HTTP's safe methods are, unless the route says `{readOnly: false}` (OAuth's callback signs in).
   */
  withTenant: <T>(fn: (scope: TenantScope) => Promise<T>, options?: TenantTransactionOptions) => Promise<T>
  /** The item handed to `work` in a batch of the tenant's items arriving together, one commit for all (db/group-commit.ts). */
  batched: <I, O>(work: BatchWork<I, O>, item: I) => Promise<O>
  /** The client's address (see http/client-address.ts), for audit and rate limits. */
  ip: string | undefined
}

const SAFE_METHODS = new Set(['GET', 'HEAD'])

export function createTenantApi(options: TenantApiOptions) {
  const principals = new WeakMap<Request, Principal>()
  return new Elysia({ prefix: apiBasePath(options.mode), name: 'tenant-api' })
    .derive(async ({ params, request, server }): Promise<TenantContext> => {
      const slug = (params as Record<string, string | undefined> | undefined)?.slug
      const tenant = await options.resolveTenant(slug)
      if (!tenant) throw new AppError(404, 'tenant_not_found', `no tenant ${slug}`)
      return {
        tenant,
        withTenant: (fn, transaction) => options.withTenant(tenant.id, fn, { readOnly: SAFE_METHODS.has(request.method), ...transaction }),
        batched: (work, item) => options.withTenant.batched(tenant.id, work, item),
        ip: clientAddress(request, server, options.trustProxy),
      }
    })
    .macro({
      auth: (requirement: AuthRequirement) => ({
        detail: {
          security: securityOf(requirement),
          // Partner-only routes need no scope but a partner principal; say so in the document.
          ...(requirement !== true && requirement.partner ? { 'x-partner-only': true } : {}),
          // A route about one partner that the partner may call too: the parameter naming it.
          ...(requirement !== true && requirement.partnerSelf ? { 'x-partner-self': requirement.partnerSelf } : {}),
        },
        // Authentication runs at transform, before the body is validated: a caller without a good
        // credential learns nothing about what the route accepts.
        // Destructured: Elysia reads each hook's source to learn what it uses, and a context object
        // handed on whole confused it in the minified binary (a warning on the first request).
        async transform({ request, tenant, params }) {
          // The derive above always sets the tenant; the macro's context type only knows it may.
          // A remembered credential answers at once: awaited only when it is a promise.
          const answer = authenticate(options.strategies, { request, tenant: tenant!, withTenant: options.withTenant })
          const principal = answer instanceof Promise ? await answer : answer
          authorize(principal, requirement, tenant!, params as Record<string, string | undefined>)
          principals.set(request, principal)
        },
        resolve: ({ request }) => ({ principal: principals.get(request)! }),
      }),
    })
}

export type TenantApi = ReturnType<typeof createTenantApi>
/** A feature's routes: a function that adds them to the tenant API. */
export type TenantRoutes = (api: TenantApi) => unknown
// Routes on this API declare no `params` schema: in multi mode the prefix adds `slug` to every route's
// params, which a route's own schema would refuse. Path parameters are ids, looked up (404 if unknown).
