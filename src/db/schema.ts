/**
 * Row types of the core tables, as stored. Ids are app-generated ULIDs (text), timestamps ISO-8601 UTC
 * strings written by the app, money integer minor units, JSON as text on SQLite and jsonb on
 * PostgreSQL; src/db/codec.ts turns stored values back into plain JS.
 */
export interface TenantsTable {
  id: string
  slug: string
  name: string
  created_at: string
}

export interface ApiKeysTable {
  id: string
  tenant_id: string
  name: string
  /** The prefix and first characters of the key, safe to show (`op_live_AbCd`). */
  start: string
  /** SHA-256 of the whole key, hex. The key itself is never stored. */
  key_hash: string
  /** JSON array of scopes; `["*"]` is a tenant admin key. */
  scopes: string
  created_at: string
  expires_at: string | null
  revoked_at: string | null
  last_used_at: string | null
}

export interface DB {
  tenants: TenantsTable
  api_keys: ApiKeysTable
}
