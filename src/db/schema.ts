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

export interface UsersTable {
  id: string
  /** Lower-cased; unique across the server (one person, several organizations). */
  email: string
  email_verified: boolean | number
  name: string | null
  /** argon2id (PHC string); null for users who sign in without a password. */
  password_hash: string | null
  disabled_at: string | null
  created_at: string
}

export interface MembershipsTable {
  id: string
  tenant_id: string
  user_id: string
  role: string
  created_at: string
}

export interface SessionsTable {
  id: string
  user_id: string
  /** SHA-256 of the cookie's token, hex. */
  token_hash: string
  active_tenant_id: string | null
  created_at: string
  last_seen_at: string
  /** Sliding: pushed forward on use (at most once a minute), never past expires_at. */
  idle_expires_at: string
  /** Absolute end of the session, fixed at sign-in. */
  expires_at: string
  ip: string | null
  user_agent: string | null
}

export interface AuditEventsTable {
  id: string
  tenant_id: string
  type: string
  actor: string | null
  subject: string | null
  ip: string | null
  /** JSON object with the event's particulars; never a secret. */
  detail: string
  created_at: string
}

/** Key digest → tenant, readable without a tenant (not tenant-owned: it holds no tenant data). */
export interface ApiKeyIndexTable {
  key_hash: string
  tenant_id: string
}

export interface PartnersTable {
  /** A bare ULID, as the API documents partner ids. */
  id: string
  tenant_id: string
  /** Lower-cased; unique within the tenant. */
  email: string
  name: string | null
  status: 'active' | 'revoked'
  /** A JSON object: text on SQLite, jsonb on PostgreSQL (codec.readJson reads either). */
  metadata: unknown
  created_at: string
  updated_at: string
  revoked_at: string | null
}

export interface ProgramsTable {
  id: string
  tenant_id: string
  name: string
  /** ISO 4217; every amount of the program is in it. */
  currency: string
  status: 'draft' | 'active' | 'paused' | 'archived'
  destination_url: string
  /** JSON array of host names deep links may point at. */
  deep_link_hosts: unknown
  attribution_window_days: number
  attribution_model: 'last_click' | 'first_click' | 'linear' | 'position'
  holdback_days: number
  /** JSON array of stored commission rules (programs/rules.ts). */
  rules: unknown
  created_at: string
  updated_at: string
}

export interface DB {
  tenants: TenantsTable
  api_keys: ApiKeysTable
  api_key_index: ApiKeyIndexTable
  users: UsersTable
  memberships: MembershipsTable
  sessions: SessionsTable
  audit_events: AuditEventsTable
  partners: PartnersTable
  programs: ProgramsTable
}
