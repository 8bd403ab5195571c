/**
 * The session cookie as a credential. The session says who; the membership in the tenant of the URL,
 * read on every request (member-principal.ts), says what they may do, so a role change acts at once.
 */
import type { Config } from '../../config/schema.ts'
import type { Database } from '../../db/database.ts'
import type { Tenant } from '../../tenants/service.ts'
import { assertSameOrigin } from '../csrf.ts'
import { invalidCredential } from '../errors.ts'
import { principalOfMember } from '../member-principal.ts'
import type { AuthStrategy } from '../principal.ts'
import { readSessionToken, sessionCookie, sessionSettings } from './cookie.ts'
import { liveSession, type SessionInfo } from './service.ts'

export function sessionStrategy(config: Config, database: Database): AuthStrategy {
  const cookie = sessionCookie(config)
  const settings = sessionSettings(config)
  const asMember = (request: Request, tenant: Tenant, session: SessionInfo | null) => {
    if (!session) throw invalidCredential('the session has ended; sign in again')
    assertSameOrigin(request, config.server.public_url)
    return principalOfMember(config.mode, database, tenant, session.userId, session.id)
  }
  return {
    name: 'session',
    // A session and a standing both remembered answer at once: no promise on the common request.
    authenticate({ request, tenant }) {
      const token = readSessionToken(request, cookie)
      if (!token) return null
      const session = liveSession(database, token, settings)
      return session instanceof Promise ? session.then((live) => asMember(request, tenant, live)) : asMember(request, tenant, session)
    },
  }
}
