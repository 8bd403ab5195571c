/**
 * Browser sessions. The cookie holds a 256-bit random token; the database holds only its SHA-256, so a
 * leaked table cannot be replayed. A session ends when unused for the idle timeout or at its absolute
 * end, whichever comes first. Use pushes the idle end forward, but at most once a minute, so checking
 * a session stays a read on almost every request.
 */
import type { Kysely } from 'kysely'
import type { Database } from '../../db/database.ts'
import type { DB } from '../../db/schema.ts'
import { newId } from '../../ids.ts'
import type { CheckedSession } from '../credential-cache.ts'
import type { MaybePromise } from '../principal.ts'
import { randomSecret, sha256Hex } from '../secrets.ts'

export interface SessionSettings {
  idleMs: number
  absoluteMs: number
}

export interface SessionInfo {
  id: string
  userId: string
  activeTenantId: string | null
  createdAt: string
  lastSeenAt: string
  idleExpiresAt: string
  expiresAt: string
  ip: string | null
  userAgent: string | null
}

const RENEW_EVERY_MS = 60_000

function toInfo(row: DB['sessions']): SessionInfo {
  return {
    id: row.id,
    userId: row.user_id,
    activeTenantId: row.active_tenant_id,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    idleExpiresAt: row.idle_expires_at,
    expiresAt: row.expires_at,
    ip: row.ip,
    userAgent: row.user_agent,
  }
}

function idleEnd(now: Date, settings: SessionSettings, expiresAt: string): string {
  const idle = new Date(now.getTime() + settings.idleMs).toISOString()
  return idle < expiresAt ? idle : expiresAt
}

/** A new token at every sign-in; the token is returned for the cookie and never stored. */
export async function issueSession(
  db: Kysely<DB>,
  input: { userId: string; activeTenantId: string | null; ip?: string; userAgent?: string | null },
  settings: SessionSettings,
  now = new Date(),
): Promise<{ token: string; session: SessionInfo }> {
  const token = randomSecret(32)
  const expiresAt = new Date(now.getTime() + settings.absoluteMs).toISOString()
  const row: DB['sessions'] = {
    id: newId('session'),
    user_id: input.userId,
    token_hash: sha256Hex(token),
    active_tenant_id: input.activeTenantId,
    created_at: now.toISOString(),
    last_seen_at: now.toISOString(),
    idle_expires_at: idleEnd(now, settings, expiresAt),
    expires_at: expiresAt,
    ip: input.ip ?? null,
    user_agent: input.userAgent?.slice(0, 512) ?? null,
  }
  await db.insertInto('sessions').values(row).execute()
  return { token, session: toInfo(row) }
}

/** A session's row, with its user's standing, as its checks need it: once per read. */
function checkedSession(row: DB['sessions'] & { disabled_at: string | null }): CheckedSession {
  return {
    info: Object.freeze(toInfo(row)),
    disabled: row.disabled_at !== null,
    idleExpiresAt: Date.parse(row.idle_expires_at),
    expiresAt: Date.parse(row.expires_at),
    lastSeenAt: Date.parse(row.last_seen_at),
  }
}

/**
 * The live session for a token, renewed if due; null when unknown, ended, or its user is disabled.
 * The session is as read at most a few seconds ago: ending a session or disabling its user forgets
 * it at once on this instance (auth/credential-cache.ts). One remembered and not due for renewal is
 * answered at once, with no promise: what nearly every request a browser makes finds.
 */
export function liveSession(
  database: Pick<Database, 'db' | 'credentials'>,
  token: string,
  settings: SessionSettings,
  now = Date.now(),
): MaybePromise<SessionInfo | null> {
  const { db, credentials } = database
  const hash = sha256Hex(token)
  const remembered = credentials.sessions.peek(hash, now)
  if (remembered) return admitSession(db, remembered, settings, now)
  return credentials.sessions
    .get(hash, async () => {
      const row = await db
        .selectFrom('sessions')
        .innerJoin('users', 'users.id', 'sessions.user_id')
        .selectAll('sessions')
        .select('users.disabled_at')
        .where('sessions.token_hash', '=', hash)
        .executeTakeFirst()
      return row && checkedSession(row)
    })
    .then((session) => (session ? admitSession(db, session, settings, now) : null))
}

/** The same, always as a promise. */
export async function resolveSession(
  database: Pick<Database, 'db' | 'credentials'>,
  token: string,
  settings: SessionSettings,
  now = new Date(),
): Promise<SessionInfo | null> {
  return liveSession(database, token, settings, now.getTime())
}

function admitSession(db: Kysely<DB>, session: CheckedSession, settings: SessionSettings, now: number): MaybePromise<SessionInfo | null> {
  if (session.disabled || session.idleExpiresAt <= now || session.expiresAt <= now) return null
  if (now - session.lastSeenAt < RENEW_EVERY_MS) return session.info
  // Moved before the write, so the requests arriving while it runs do not each renew it again.
  session.lastSeenAt = now
  const at = new Date(now)
  const lastSeenAt = at.toISOString()
  const idleExpiresAt = idleEnd(at, settings, session.info.expiresAt)
  return db
    .updateTable('sessions')
    .set({ last_seen_at: lastSeenAt, idle_expires_at: idleExpiresAt })
    .where('id', '=', session.info.id)
    .execute()
    .then(() => {
      session.idleExpiresAt = Date.parse(idleExpiresAt)
      session.info = Object.freeze({ ...session.info, lastSeenAt, idleExpiresAt })
      return session.info
    })
}

export async function listSessions(db: Kysely<DB>, userId: string, now = new Date()): Promise<SessionInfo[]> {
  const at = now.toISOString()
  const rows = await db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('expires_at', '>', at)
    .where('idle_expires_at', '>', at)
    .orderBy('id')
    .execute()
  return rows.map(toInfo)
}

/** Ends one of the user's own sessions; false when there is no such session of this user. */
export async function endSession(db: Kysely<DB>, userId: string, sessionId: string): Promise<boolean> {
  const result = await db.deleteFrom('sessions').where('id', '=', sessionId).where('user_id', '=', userId).executeTakeFirst()
  return Number(result.numDeletedRows) > 0
}

/** Ends every session of the user ("sign out everywhere"); how many there were. */
export async function endAllSessions(db: Kysely<DB>, userId: string): Promise<number> {
  const result = await db.deleteFrom('sessions').where('user_id', '=', userId).executeTakeFirst()
  return Number(result.numDeletedRows)
}
