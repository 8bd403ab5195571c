/**
 * `GET /auth/introspect`: what the calling credential may do, in OpenPartner's three roles. A
 * credential holding `*` is `admin` and unrestricted; one acting as a partner is `partner`,
 * restricted to it; anything else is `scoped`, with its scopes (and the program a bound key keeps
 * to). People signed in are judged the same way, by the scopes their role gives them.
 * `GET /me` says the same in partnerd's own terms.
 */
import { t } from 'elysia'
import type { TenantApi } from '../http/tenant-api.ts'
import type { Principal } from './principal.ts'
import { ALL_SCOPES } from './scopes.ts'

export type Introspection =
  | { role: 'admin'; unrestricted: true }
  | { role: 'partner'; restrictedTo: { partnerId: string } }
  | { role: 'scoped'; scopes: string[]; restrictedTo?: { programId: string } }

export function introspect(principal: Principal): Introspection {
  if (principal.partnerId) return { role: 'partner', restrictedTo: { partnerId: principal.partnerId } }
  if (principal.scopes.includes(ALL_SCOPES)) return { role: 'admin', unrestricted: true }
  return {
    role: 'scoped',
    scopes: [...principal.scopes],
    ...(principal.programId ? { restrictedTo: { programId: principal.programId } } : {}),
  }
}

export function introspectRoutes(api: TenantApi) {
  return api.get('/auth/introspect', ({ principal }) => introspect(principal), {
    auth: true,
    response: t.Object({
      role: t.String({ description: 'admin, partner or scoped.' }),
      unrestricted: t.Optional(t.Literal(true)),
      scopes: t.Optional(t.Array(t.String())),
      restrictedTo: t.Optional(t.Object({ partnerId: t.Optional(t.String()), programId: t.Optional(t.String()) })),
    }),
    detail: { tags: ['API keys'], summary: 'What the calling credential may do (OpenPartner’s roles: admin, partner, scoped)' },
  })
}
