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

/**
 * The live session for a token, renewed if due; null when unknown, ended, or its user is disabled.
 * The row is as read at most a few seconds ago: ending a session or disabling its user forgets it at
 * once on this instance (auth/credential-cache.ts).
 */
export async function resolveSession(
  database: Pick<Database, 'db' | 'credentials'>,
  token: string,
  settings: SessionSettings,
  now = new Date(),
): Promise<SessionInfo | null> {
  const { db, credentials } = database
  const hash = sha256Hex(token)
  const row = await credentials.sessions.get(hash, () =>
    db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .selectAll('sessions')
      .select('users.disabled_at')
      .where('sessions.token_hash', '=', hash)
      .executeTakeFirst(),
  )
  const at = now.toISOString()
  if (!row || row.disabled_at || row.idle_expires_at <= at || row.expires_at <= at) return null
  if (now.getTime() - Date.parse(row.last_seen_at) >= RENEW_EVERY_MS) {
    const idle = idleEnd(now, settings, row.expires_at)
    await db.updateTable('sessions').set({ last_seen_at: at, idle_expires_at: idle }).where('id', '=', row.id).execute()
    const renewed = { ...row, last_seen_at: at, idle_expires_at: idle }
    credentials.sessions.set(hash, renewed)
    return toInfo(renewed)
  }
  return toInfo(row)
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
