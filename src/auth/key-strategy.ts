/**
 * The credential every deployment has: a configured admin key or a minted API key, sent as
 * `Authorization: Bearer <key>` or `x-api-key: <key>`, never in the query string (URLs end up in logs).
 * A Bearer token that is not key-shaped is left to other strategies (JWTs, for one).
 */

import type { Database } from '../db/database.ts'
import { AppError } from '../errors.ts'
import { adminKeyMatcher } from './admin-keys.ts'
import { looksLikeApiKey, tenantOfKey, verifyApiKey } from './api-keys/service.ts'
import { invalidCredential } from './errors.ts'
import type { AuthStrategy } from './principal.ts'

export function presentedKey(request: Request): string | undefined {
  const header = request.headers.get('x-api-key')
  if (header !== null) return header.trim()
  const authorization = request.headers.get('authorization')
  const match = authorization?.match(/^Bearer +(\S+)\s*$/i)
  return match?.[1]
}

export function keyStrategy(options: { adminKeys: string[]; prefix: string; database: Database }): AuthStrategy {
  const matchAdmin = adminKeyMatcher(options.adminKeys)
  return {
    name: 'api-key',
    async authenticate({ request, tenant, withTenant }) {
      const presented = presentedKey(request)
      if (!presented) return null
      const admin = matchAdmin(presented)
      if (admin) return admin
      // Malformed keys are refused before touching the database.
      if (!looksLikeApiKey(presented, options.prefix)) return null
      const principal = await verifyApiKey(options.database, withTenant, tenant.id, presented)
      if (principal) return principal
      // Another tenant's key: answered as that tenant's resources are, with a 404.
      const owner = await tenantOfKey(options.database.db, presented)
      if (owner && owner !== tenant.id) throw new AppError(404, 'tenant_not_found', `no tenant ${tenant.slug}`)
      throw invalidCredential()
    },
  }
}
