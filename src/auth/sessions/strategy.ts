/**
 * The session cookie as a credential. The session says who; the membership in the tenant of the URL,
 * read on every request, says what they may do, so a role change or removal acts at once.
 * Single mode: a signed-in person with no membership gets 400 no_active_organization. Multi mode:
 * the organization is the one in the URL, and a person not in it gets the 404 of a foreign tenant.
 */
import type { Config } from '../../config/schema.ts'
import type { Database } from '../../db/database.ts'
import { AppError } from '../../errors.ts'
import { roleIn } from '../../users/service.ts'
import { assertSameOrigin } from '../csrf.ts'
import { invalidCredential } from '../errors.ts'
import type { AuthStrategy } from '../principal.ts'
import { ROLE_SCOPES } from '../roles.ts'
import { readCookie, sessionCookie, sessionSettings } from './cookie.ts'
import { resolveSession } from './service.ts'

export function sessionStrategy(config: Config, database: Database): AuthStrategy {
  const cookie = sessionCookie(config)
  const settings = sessionSettings(config)
  return {
    name: 'session',
    async authenticate({ request, tenant, withTenant }) {
      const token = readCookie(request, cookie.name)
      if (!token) return null
      const session = await resolveSession(database.db, token, settings)
      if (!session) throw invalidCredential('the session has ended; sign in again')
      assertSameOrigin(request, config.server.public_url)
      const role = await withTenant(tenant.id, (scope) => roleIn(scope, session.userId))
      if (!role) {
        if (config.mode === 'single') throw new AppError(400, 'no_active_organization', 'this account belongs to no organization here')
        throw new AppError(404, 'tenant_not_found', `no tenant ${tenant.slug}`)
      }
      return { kind: 'user', id: session.userId, tenantId: tenant.id, scopes: ROLE_SCOPES[role], role, sessionId: session.id }
    },
  }
}
