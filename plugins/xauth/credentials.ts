/**
 * X-Auth credential pairs (the Vobiz dialect): a public `auth_id` and a secret token, long-lived, for
 * server-to-server integrations. Two kinds, each valid on its own paths only:
 *
 *   partner   `PA_…`  acts as one partner: the partner's own routes (/me, /me/…)
 *   customer  `MA_…`  the company's own integrations: the management routes, with the scopes given
 *
 * The token is 256 random bits, shown once, stored as SHA-256. `xauth_index` maps an auth_id to its
 * tenant (it holds no tenant data), so a pair sent to another tenant is answered 404 like the rest.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { PluginTenantScope } from '../../src/plugins/contract.ts'

export type CredentialKind = 'partner' | 'customer'
export const PREFIX: Record<CredentialKind, string> = { partner: 'PA_', customer: 'MA_' }
export const AUTH_ID = /^(PA|MA)_[A-Z0-9]{20}$/
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'

export interface Credential {
  authId: string
  kind: CredentialKind
  name: string
  partnerId: string | null
  scopes: string[]
  createdAt: string
  revokedAt: string | null
  lastUsedAt: string | null
}

interface Row {
  auth_id: string
  tenant_id: string
  kind: CredentialKind
  name: string
  partner_id: string | null
  scopes: unknown
  token_hash: string
  created_at: string
  revoked_at: string | null
  last_used_at: string | null
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex')
const scopesOf = (value: unknown): string[] => (typeof value === 'string' ? JSON.parse(value) : (value as string[]))

function toCredential(row: Row): Credential {
  return {
    authId: row.auth_id,
    kind: row.kind,
    name: row.name,
    partnerId: row.partner_id,
    scopes: scopesOf(row.scopes),
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  }
}

function newAuthId(kind: CredentialKind): string {
  const bytes = randomBytes(20)
  return PREFIX[kind] + Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join('')
}

export async function issueCredential(
  scope: PluginTenantScope,
  input: { kind: CredentialKind; name: string; partnerId?: string; scopes?: string[] },
): Promise<Credential & { authToken: string }> {
  const authToken = randomBytes(32).toString('base64url')
  const row: Row = {
    auth_id: newAuthId(input.kind),
    tenant_id: scope.tenantId,
    kind: input.kind,
    name: input.name.trim(),
    partner_id: input.partnerId ?? null,
    scopes: JSON.stringify(input.scopes ?? []),
    token_hash: sha256(authToken),
    created_at: new Date().toISOString(),
    revoked_at: null,
    last_used_at: null,
  }
  await scope.db.insertInto('xauth_credentials').values(row).execute()
  await scope.db.insertInto('xauth_index').values({ auth_id: row.auth_id, tenant_id: scope.tenantId }).execute()
  const credential = toCredential(row)
  scope.emit('xauth.issued', credential)
  return { ...credential, authToken }
}

export async function listCredentials(scope: PluginTenantScope): Promise<Credential[]> {
  const rows = (await scope.db
    .selectFrom('xauth_credentials')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .orderBy('created_at')
    .execute()) as Row[]
  return rows.map(toCredential)
}

async function credentialRow(scope: PluginTenantScope, authId: string): Promise<Row | undefined> {
  return (await scope.db
    .selectFrom('xauth_credentials')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('auth_id', '=', authId)
    .executeTakeFirst()) as Row | undefined
}

export async function revokeCredential(scope: PluginTenantScope, authId: string): Promise<Credential | undefined> {
  const row = await credentialRow(scope, authId)
  if (!row) return undefined
  if (!row.revoked_at) {
    row.revoked_at = new Date().toISOString()
    await scope.db
      .updateTable('xauth_credentials')
      .set({ revoked_at: row.revoked_at })
      .where('tenant_id', '=', scope.tenantId)
      .where('auth_id', '=', authId)
      .execute()
    scope.emit('xauth.revoked', toCredential(row))
  }
  return toCredential(row)
}

/** The live credential for the pair, or undefined (unknown id, wrong token, revoked). */
export async function verifyPair(scope: PluginTenantScope, authId: string, token: string): Promise<Credential | undefined> {
  const row = await credentialRow(scope, authId)
  // The digest is compared whether or not the id exists, so timing says nothing about either.
  const expected = Buffer.from(row?.token_hash ?? sha256(`absent:${authId}`), 'hex')
  const equal = timingSafeEqual(expected, Buffer.from(sha256(token), 'hex'))
  if (!row || !equal || row.revoked_at) return undefined
  const now = new Date()
  if (!row.last_used_at || Date.parse(row.last_used_at) < now.getTime() - 60_000) {
    await scope.db
      .updateTable('xauth_credentials')
      .set({ last_used_at: now.toISOString() })
      .where('tenant_id', '=', scope.tenantId)
      .where('auth_id', '=', authId)
      .execute()
  }
  return toCredential(row)
}

export async function tenantOfAuthId(scope: PluginTenantScope, authId: string): Promise<string | undefined> {
  const row = await scope.db.selectFrom('xauth_index').select('tenant_id').where('auth_id', '=', authId).executeTakeFirst()
  return row?.tenant_id
}
