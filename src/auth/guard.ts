/**
 * The one authorization decision. A route declares `auth: true` (any principal of the tenant) or
 * `auth: { scopes, roles }`; the guard asks the strategies, in order, who is calling and checks the
 * answer against the declaration. Order of answers: no credential → 401 unauthorized; a credential no
 * strategy accepts → 401 invalid_credentials; another tenant's principal → 401 (its credentials do not
 * exist here); missing scope → 403 forbidden_scope; wrong role → 403 forbidden.
 *
 * A route about one partner (`/partners/:id/…`) may also let that partner in: `partnerSelf` names the
 * path parameter holding the partner's id, and a partner principal (a portal user, a key bound to
 * the partner) passes when it names itself, as OpenPartner's partner keys read their own dashboard.
 */
import { AppError } from '../errors.ts'
import type { Tenant } from '../tenants/service.ts'
import { insufficientScope, invalidCredential, notThisPartner, unauthenticated } from './errors.ts'
import type { AuthInput, AuthStrategy, MaybePromise, Principal } from './principal.ts'
import { type ALL_SCOPES, hasScopes, type Scope } from './scopes.ts'

/** `*` among the scopes means: only an admin credential of the tenant. */
export type AuthRequirement =
  | true
  | {
      scopes?: (Scope | typeof ALL_SCOPES)[]
      roles?: string[]
      /** Only a partner (a portal user, or a key bound to a partner): the partner's own routes. */
      partner?: true
      /** The path parameter naming a partner: that partner itself may also call the route. */
      partnerSelf?: string
    }

/** Headers that carry a credential; a cookie alone is not one (browsers send cookies unasked). */
const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'x-auth-id', 'x-auth-token']

/**
 * The first principal a strategy answers with. A remembered credential answers at once, and so does
 * this: the common request makes no promise here (each one a turn of the microtask queue).
 */
export function authenticate(strategies: readonly AuthStrategy[], input: AuthInput, from = 0): MaybePromise<Principal> {
  for (let i = from; i < strategies.length; i++) {
    const answer = strategies[i]!.authenticate(input)
    if (answer instanceof Promise) return answer.then((principal) => principal ?? authenticate(strategies, input, i + 1))
    if (answer) return answer
  }
  const presentedSomething = CREDENTIAL_HEADERS.some((h) => input.request.headers.has(h))
  throw presentedSomething ? invalidCredential() : unauthenticated()
}

export function authorize(
  principal: Principal,
  requirement: AuthRequirement,
  tenant: Pick<Tenant, 'id'>,
  params: Record<string, string | undefined> = {},
): void {
  if (principal.tenantId !== null && principal.tenantId !== tenant.id) throw invalidCredential()
  if (requirement === true) return
  if (requirement.partner) {
    if (!principal.partnerId) throw new AppError(403, 'not_a_partner', "this route is a partner's own; sign in as the partner")
    return
  }
  if (requirement.partnerSelf && principal.partnerId) {
    if (params[requirement.partnerSelf] !== principal.partnerId) throw notThisPartner()
    return
  }
  const missing = hasScopes(principal.scopes, requirement.scopes ?? [])
  if (missing.length > 0) throw insufficientScope(missing)
  if (requirement.roles && principal.kind !== 'admin' && !requirement.roles.includes(principal.role ?? '')) {
    throw new AppError(403, 'forbidden', `this route needs the role ${requirement.roles.join(' or ')}`)
  }
}

/** How a route's requirement reads in the OpenAPI document: each scheme, with the scopes it needs. */
export function securityOf(requirement: AuthRequirement): Record<string, string[]>[] {
  const scopes = requirement === true ? [] : (requirement.scopes ?? [])
  return [{ bearerAuth: scopes }, { apiKeyHeader: scopes }, { sessionCookie: scopes }]
}
