/**
 * The credential every deployment has: a configured admin key or a minted API key, sent as
 * `Authorization: Bearer <key>` or `x-api-key: <key>`, never in the query string (URLs end up in logs).
 * A Bearer token that is not key-shaped is left to other strategies (JWTs, for one).
 */

import type { Database } from '../db/database.ts'
import { AppError } from '../errors.ts'
import type { Tenant } from '../tenants/service.ts'
import { adminKeyMatcher } from './admin-keys.ts'
import { keyPrincipal, looksLikeApiKey, tenantOfKey } from './api-keys/service.ts'
import { invalidCredential } from './errors.ts'
import type { AuthStrategy } from './principal.ts'
import { sha256Hex } from './secrets.ts'

export function presentedKey(request: Request): string | undefined {
  const header = request.headers.get('x-api-key')
  if (header !== null) return header.trim()
  const authorization = request.headers.get('authorization')
  const match = authorization?.match(/^Bearer +(\S+)\s*$/i)
  return match?.[1]
}

export function keyStrategy(options: { adminKeys: string[]; prefix: string; database: Database }): AuthStrategy {
  const matchAdmin = adminKeyMatcher(options.adminKeys)
  const { database, prefix } = options
  return {
    name: 'api-key',
    authenticate({ request, tenant, withTenant }) {
      const presented = presentedKey(request)
      if (!presented) return null
      // Digested once: for the admin keys' comparison and the API keys' lookup alike.
      const digest = sha256Hex(presented)
      const admin = matchAdmin(digest)
      if (admin) return admin
      // Malformed keys are refused before touching the database.
      if (!looksLikeApiKey(presented, prefix)) return null
      const answer = keyPrincipal(database, withTenant, tenant.id, digest)
      if (answer instanceof Promise) return answer.then((principal) => principal ?? refused(database, tenant, digest))
      return answer ?? refused(database, tenant, digest)
    },
  }
}

/** A well-formed key that is not a live key of this tenant. */
async function refused(database: Database, tenant: Tenant, digest: string): Promise<never> {
  // Another tenant's key: answered as that tenant's resources are, with a 404.
  const owner = await tenantOfKey(database.db, digest)
  if (owner && owner !== tenant.id) throw new AppError(404, 'tenant_not_found', `no tenant ${tenant.slug}`)
  throw invalidCredential()
}
