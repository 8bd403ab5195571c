/**
 * The session cookie as a credential. The session says who; the membership in the tenant of the URL,
 * read on every request (member-principal.ts), says what they may do, so a role change acts at once.
 */
import type { Config } from '../../config/schema.ts'
import type { Database } from '../../db/database.ts'
import { assertSameOrigin } from '../csrf.ts'
import { invalidCredential } from '../errors.ts'
import { memberPrincipal } from '../member-principal.ts'
import type { AuthStrategy } from '../principal.ts'
import { readSessionToken, sessionCookie, sessionSettings } from './cookie.ts'
import { resolveSession } from './service.ts'

export function sessionStrategy(config: Config, database: Database): AuthStrategy {
  const cookie = sessionCookie(config)
  const settings = sessionSettings(config)
  return {
    name: 'session',
    async authenticate({ request, tenant }) {
      const token = readSessionToken(request, cookie)
      if (!token) return null
      const session = await resolveSession(database, token, settings)
      if (!session) throw invalidCredential('the session has ended; sign in again')
      assertSameOrigin(request, config.server.public_url)
      return memberPrincipal(config.mode, database, tenant, session.userId, { sessionId: session.id })
    },
  }
}
