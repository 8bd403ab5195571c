/**
 * Sign-in attempts by email. Each attempt has a 6-digit code (from the CSPRNG) and a link token
 * (256 bits); neither is stored. The link token is kept as its SHA-256 (256 random bits cannot be
 * guessed back). The code is kept as a keyed digest (HMAC-SHA256, host.secrets) of the attempt id and
 * the code: bound to its attempt, and, since the key is not in the database, not found again by
 * trying the million codes against a stolen copy. An attempt is single use and lasts minutes.
 *
 * The per-code cap is enforced by the database, not the process: each guess first claims a try with
 * one conditional UPDATE (`attempts < max`), so parallel guesses on several instances cannot exceed it.
 * Failures are also counted per email over a day: six digits would otherwise fall to patient guessing.
 */
import type { PluginSecrets, PluginTenantScope } from '../../src/plugins/contract.ts'

export interface NewAttempt {
  id: string
  code: string
  linkToken: string
  expiresAt: string
}

/** A sign-in attempt names its member; a registration (sign-up) may name nobody yet. */
export type Verified =
  | { ok: true; purpose: 'sign_in'; userId: string; email: string }
  | { ok: true; purpose: 'register'; userId: string | null; email: string; name: string | null }
  | { ok: false }

interface Claimed {
  user_id: string | null
  email: string
  purpose: string | null
  name: string | null
}

const sha256 = (value: string) => new Bun.CryptoHasher('sha256').update(value).digest('hex')
const nowIso = () => new Date().toISOString()

function sixDigits(): string {
  // Rejection sampling keeps every code equally likely.
  const buf = new Uint32Array(1)
  do crypto.getRandomValues(buf)
  while (buf[0]! >= 4_294_000_000)
  return String(buf[0]! % 1_000_000).padStart(6, '0')
}

export async function createAttempt(
  scope: PluginTenantScope,
  codes: PluginSecrets,
  email: string,
  userId: string | null,
  ttlMs: number,
  registration?: { name: string | null },
): Promise<NewAttempt> {
  const id = crypto.randomUUID()
  const code = sixDigits()
  const linkToken = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
  const expiresAt = new Date(Date.now() + ttlMs).toISOString()
  await scope.db
    .insertInto('magic_attempts')
    .values({
      id,
      tenant_id: scope.tenantId,
      email,
      user_id: userId,
      code_hash: codes.digest(`${id}:${code}`),
      link_hash: sha256(linkToken),
      created_at: nowIso(),
      expires_at: expiresAt,
      attempts: 0,
      failures: 0,
      used_at: null,
      purpose: registration ? 'register' : 'sign_in',
      name: registration?.name ?? null,
    })
    .execute()
  return { id, code, linkToken, expiresAt }
}

export async function verifyCode(
  scope: PluginTenantScope,
  codes: PluginSecrets,
  attemptId: string,
  code: string,
  maxAttempts: number,
): Promise<Verified> {
  const claimed = await scope.db
    .updateTable('magic_attempts')
    .set((eb: any) => ({ attempts: eb('attempts', '+', 1) }))
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', attemptId)
    .where('used_at', 'is', null)
    .where('attempts', '<', maxAttempts)
    .where('expires_at', '>', nowIso())
    .returning(['code_hash', 'user_id', 'email', 'purpose', 'name'])
    .executeTakeFirst()
  if (!claimed) return { ok: false }
  const matches = /^\d{6}$/.test(code) && codes.matches(`${attemptId}:${code}`, claimed.code_hash)
  if (!matches || !usable(claimed)) {
    await scope.db
      .updateTable('magic_attempts')
      .set((eb: any) => ({ failures: eb('failures', '+', 1) }))
      .where('tenant_id', '=', scope.tenantId)
      .where('id', '=', attemptId)
      .execute()
    return { ok: false }
  }
  return consume(scope, (q: any) => q.where('id', '=', attemptId), claimed)
}

export async function verifyLink(scope: PluginTenantScope, token: string): Promise<Verified> {
  const row = await scope.db
    .selectFrom('magic_attempts')
    .select(['id', 'user_id', 'email', 'purpose', 'name'])
    .where('tenant_id', '=', scope.tenantId)
    .where('link_hash', '=', sha256(token))
    .where('expires_at', '>', nowIso())
    .executeTakeFirst()
  if (!row || !usable(row)) return { ok: false }
  return consume(scope, (q: any) => q.where('id', '=', row.id), row)
}

/** Marks the attempt used; of two verifications racing, one wins. */
async function consume(scope: PluginTenantScope, which: (q: any) => any, attempt: Claimed): Promise<Verified> {
  const result = await which(
    scope.db.updateTable('magic_attempts').set({ used_at: nowIso() }).where('tenant_id', '=', scope.tenantId).where('used_at', 'is', null),
  ).executeTakeFirst()
  if (Number(result.numUpdatedRows) !== 1) return { ok: false }
  if (attempt.purpose === 'register')
    return { ok: true, purpose: 'register', userId: attempt.user_id, email: attempt.email, name: attempt.name }
  return { ok: true, purpose: 'sign_in', userId: attempt.user_id!, email: attempt.email }
}

/** A sign-in attempt for an unknown email is kept (so answers look alike) but can never succeed. */
function usable(attempt: Claimed): boolean {
  return attempt.user_id !== null || attempt.purpose === 'register'
}

export async function attemptEmail(scope: PluginTenantScope, attemptId: string): Promise<string | undefined> {
  const row = await scope.db
    .selectFrom('magic_attempts')
    .select('email')
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', attemptId)
    .executeTakeFirst()
  return row?.email
}

/** Codes sent to an email in the last hour, and its failed guesses in the last day. */
export async function emailUsage(scope: PluginTenantScope, email: string): Promise<{ sentLastHour: number; failuresLastDay: number }> {
  const hourAgo = new Date(Date.now() - 3_600_000).toISOString()
  const dayAgo = new Date(Date.now() - 86_400_000).toISOString()
  const row = await scope.db
    .selectFrom('magic_attempts')
    .select((eb: any) => [
      eb.fn.sum(eb.case().when('created_at', '>', hourAgo).then(1).else(0).end()).as('sent'),
      eb.fn.sum('failures').as('failures'),
    ])
    .where('tenant_id', '=', scope.tenantId)
    .where('email', '=', email)
    .where('created_at', '>', dayAgo)
    .executeTakeFirst()
  return { sentLastHour: Number(row?.sent ?? 0), failuresLastDay: Number(row?.failures ?? 0) }
}
