/**
 * Users and their memberships. A user is global (one person, several organizations) and signs in by
 * email; a membership gives the user a role in one tenant. Passwords are hashed with argon2id
 * (Bun.password's defaults: 64 MiB, 2 passes, above OWASP's minimum).
 */
import type { Kysely } from 'kysely'
import { isRole, type Role } from '../auth/roles.ts'
import { readBool } from '../db/codec.ts'
import type { Database } from '../db/database.ts'
import { isUniqueViolation } from '../db/errors.ts'
import type { DB } from '../db/schema.ts'
import { readTenantRow, type TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'

export interface User {
  id: string
  email: string
  emailVerified: boolean
  name: string | null
  hasPassword: boolean
  disabledAt: string | null
  createdAt: string
}

export const PASSWORD_MIN = 10
export const PASSWORD_MAX = 256
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
/**
 * What no address carries but a screen can hide: control characters (C0, DEL, C1), format
 * characters (the bidirectional embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069,
 * the marks U+200E/U+200F, the zero-width space and joiners U+200B–U+200D, the word joiner U+2060,
 * the BOM U+FEFF, the soft hyphen), line and paragraph separators, and lone surrogates. With one
 * of them an address reads as another one on a page, in a mail client or in the audit log (U+202E
 * writes the rest backwards), or is two accounts that look alike; so it is refused, not cleaned.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u

/**
 * The one rule for an email given to partnerd (sign-in, magic codes, sign-up, members, partners,
 * an event's customer): checked as given (before trimming, which would drop a BOM or a tab), then
 * trimmed and lower-cased. Throws 400 invalid_email.
 */
export function normalizeEmail(email: string): string {
  const hidden = HIDDEN.exec(email)
  if (hidden) {
    const code = `U+${hidden[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`
    throw new AppError(400, 'invalid_email', `an email address may not contain control or invisible characters (${code})`)
  }
  const normalized = email.trim().toLowerCase()
  if (normalized.length > 254 || !EMAIL.test(normalized)) throw new AppError(400, 'invalid_email', 'not an email address')
  return normalized
}

function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new AppError(400, 'weak_password', `passwords have ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`)
  }
}

export function toUser(row: DB['users']): User {
  return {
    id: row.id,
    email: row.email,
    emailVerified: readBool(row.email_verified),
    name: row.name,
    hasPassword: row.password_hash !== null,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
  }
}

export async function createUser(
  db: Kysely<DB>,
  input: { email: string; password?: string; name?: string; emailVerified?: boolean },
): Promise<User> {
  const email = normalizeEmail(input.email)
  if (input.password !== undefined) checkPassword(input.password)
  const row: DB['users'] = {
    id: newId('user'),
    email,
    email_verified: input.emailVerified ?? false,
    name: input.name?.trim() || null,
    password_hash: input.password === undefined ? null : await Bun.password.hash(input.password, { algorithm: 'argon2id' }),
    disabled_at: null,
    created_at: new Date().toISOString(),
  }
  try {
    await db.insertInto('users').values(row).execute()
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError(409, 'email_taken', `a user with email ${email} exists`)
    throw err
  }
  return toUser(row)
}

/** Sets (or replaces) a user's password; `emailVerified` when the way they got here proved their email. */
export async function setPassword(
  db: Kysely<DB>,
  userId: string,
  password: string,
  options: { emailVerified?: boolean } = {},
): Promise<void> {
  checkPassword(password)
  const hash = await Bun.password.hash(password, { algorithm: 'argon2id' })
  await db
    .updateTable('users')
    .set({ password_hash: hash, ...(options.emailVerified ? { email_verified: true } : {}) })
    .where('id', '=', userId)
    .execute()
}

export async function findUserRowByEmail(db: Kysely<DB>, email: string): Promise<DB['users'] | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email.trim().toLowerCase()).executeTakeFirst()
}

/**
 * A hash of a password nobody has, verified when the email is unknown so both answers take as long.
 * Made on first use: argon2id costs 64 MiB and tens of milliseconds, which every start would pay.
 */
let decoyHash: Promise<string> | undefined
const decoy = () => (decoyHash ??= Bun.password.hash(`decoy ${crypto.randomUUID()}`, { algorithm: 'argon2id' }))

/** The user for an email and password, or null; the same time and answer whether the email exists or not. */
export async function verifyPassword(db: Kysely<DB>, email: string, password: string): Promise<DB['users'] | null> {
  const row = password.length <= PASSWORD_MAX ? await findUserRowByEmail(db, email) : undefined
  const hash = row?.password_hash ?? (await decoy())
  const ok = await Bun.password.verify(password.slice(0, PASSWORD_MAX), hash)
  return ok && row?.password_hash && !row.disabled_at ? row : null
}

/** Disabling a user ends every one of its sessions at once. */
export async function disableUser(db: Kysely<DB>, userId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.updateTable('users').set({ disabled_at: new Date().toISOString() }).where('id', '=', userId).execute()
    await trx.deleteFrom('sessions').where('user_id', '=', userId).execute()
  })
}

/** The membership row itself; src/members/service.ts adds the rules and the audit trail around it. */
export async function addMembership(
  scope: TenantScope,
  userId: string,
  role: string,
  /** Required for role `partner`, refused for the others. */
  partnerId?: string,
): Promise<{ id: string; role: Role; created_at: string }> {
  if (!isRole(role)) throw new AppError(400, 'invalid_role', `role must be one of owner, admin, member, viewer, partner`)
  if ((role === 'partner') !== (partnerId !== undefined)) {
    throw new AppError(400, 'invalid_role', 'partner portal users are made by inviting the partner (POST /partners/:id/invite)')
  }
  const row = {
    id: newId('membership'),
    tenant_id: scope.tenantId,
    user_id: userId,
    role,
    partner_id: partnerId ?? null,
    created_at: new Date().toISOString(),
  }
  try {
    await scope.db.insertInto('memberships').values(row).execute()
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError(409, 'already_member', 'the user is already a member of this organization')
    throw err
  }
  return { id: row.id, role, created_at: row.created_at }
}

/** A person's role in a tenant, and for a partner's portal user the partner it is. */
export interface TenantRole {
  role: Role
  partnerId: string | null
}

/**
 * The person's role in the scope's tenant, read inside its transaction (where the read must see the
 * transaction's own writes, or be part of its decision).
 */
export async function roleIn(scope: TenantScope, userId: string): Promise<TenantRole | undefined> {
  const row = await scope.db
    .selectFrom('memberships')
    .select(['role', 'partner_id'])
    .where('tenant_id', '=', scope.tenantId)
    .where('user_id', '=', userId)
    .executeTakeFirst()
  return tenantRole(row)
}

/**
 * The person's role in a tenant as a request's check reads it: fresh on every request (never trusted
 * from a session), in one statement (readTenantRow).
 */
export async function roleOf(database: Database, tenantId: string, userId: string): Promise<TenantRole | undefined> {
  return tenantRole(await readTenantRow(database, tenantId, 'memberships', 'user_id', userId))
}

function tenantRole(row: { role: string; partner_id: string | null } | undefined): TenantRole | undefined {
  return row && isRole(row.role) ? { role: row.role, partnerId: row.partner_id } : undefined
}
