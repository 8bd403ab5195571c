import { t } from 'elysia'
import { recordAudit } from '../../audit/service.ts'
import type { Config } from '../../config/schema.ts'
import type { Database } from '../../db/database.ts'
import { AppError } from '../../errors.ts'
import type { TenantApi } from '../../http/tenant-api.ts'
import { toUser } from '../../users/service.ts'
import type { Principal } from '../principal.ts'
import { clearCookieHeaders, sessionCookie } from './cookie.ts'
import { endSession, listSessions } from './service.ts'

const SessionSchema = t.Object({
  id: t.String(),
  createdAt: t.String({ format: 'date-time' }),
  lastSeenAt: t.String({ format: 'date-time' }),
  idleExpiresAt: t.String({ format: 'date-time' }),
  expiresAt: t.String({ format: 'date-time' }),
  ip: t.Nullable(t.String()),
  userAgent: t.Nullable(t.String()),
  current: t.Boolean(),
})

function sessionOf(principal: Principal): { userId: string; sessionId: string } {
  if (principal.kind !== 'user' || !principal.sessionId)
    throw new AppError(400, 'not_a_session', 'this route is for signed-in people, not keys')
  return { userId: principal.id, sessionId: principal.sessionId }
}

/** What a signed-in person does with their own sessions. */
export function sessionRoutes(config: Config, database: Database) {
  const cookie = sessionCookie(config)
  return (api: TenantApi) =>
    api
      .get(
        '/auth/session',
        async ({ principal, tenant }) => {
          const { userId, sessionId } = sessionOf(principal)
          const user = await database.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow()
          const { email, name, emailVerified } = toUser(user)
          return {
            user: { id: userId, email, name, emailVerified },
            sessionId,
            organization: { id: tenant.id, slug: tenant.slug, name: tenant.name, role: principal.role! },
          }
        },
        {
          auth: true,
          detail: { tags: ['Sessions'], summary: 'Who is signed in, and their role in this organization' },
        },
      )
      .post(
        '/auth/sign-out',
        async ({ principal, set, withTenant, ip }) => {
          const { userId, sessionId } = sessionOf(principal)
          await endSession(database.db, userId, sessionId)
          await withTenant((scope) => recordAudit(scope, { type: 'session.signed_out', actor: userId, subject: sessionId, ip }))
          set.headers['set-cookie'] = clearCookieHeaders(cookie) as never
          set.status = 204
        },
        { auth: true, detail: { tags: ['Sessions'], summary: 'End this session and clear its cookie' } },
      )
      .get(
        '/auth/sessions',
        async ({ principal }) => {
          const { userId, sessionId } = sessionOf(principal)
          const sessions = await listSessions(database.db, userId)
          return { sessions: sessions.map(({ userId: _, activeTenantId: __, ...s }) => ({ ...s, current: s.id === sessionId })) }
        },
        {
          auth: true,
          response: t.Object({ sessions: t.Array(SessionSchema) }),
          detail: { tags: ['Sessions'], summary: 'Your live sessions (never their tokens)' },
        },
      )
      .post(
        '/auth/sessions/:id/revoke',
        async ({ principal, params, withTenant, set, ip }) => {
          const { userId } = sessionOf(principal)
          if (!(await endSession(database.db, userId, params.id))) throw new AppError(404, 'not_found', `no session ${params.id}`)
          await withTenant((scope) => recordAudit(scope, { type: 'session.revoked', actor: userId, subject: params.id, ip }))
          set.status = 204
        },
        {
          auth: true,
          detail: { tags: ['Sessions'], summary: 'End one of your sessions' },
        },
      )
}
