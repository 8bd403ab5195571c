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
  /** Key of the keyed hash of click addresses (links/visitor.ts), sealed (src/secrets/); never leaves the server. */
  click_salt: string | null
  /** ISO 4217: what a program created without a currency is in. */
  default_currency: string
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
  /** A key bound to a partner acts only as that partner (its portal routes). */
  partner_id: string | null
  /** A key bound to a program sees and records only that program's data. */
  program_id: string | null
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
  /** For role `partner`: the partner this portal user is. */
  partner_id: string | null
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
  /**
   * When the partner accepted its invitation (its portal user's first sign-in), or was created as
   * needing none (`sendInvite: false`); null while an invitation waits, or none was ever sent.
   */
  activated_at: string | null
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

export interface EnrolmentsTable {
  id: string
  tenant_id: string
  partner_id: string
  program_id: string
  /** JSON: the program's terms when the partner joined (rules, holdback), kept for grandfathering. */
  terms: unknown
  created_at: string
  updated_at: string
}

export interface LinksTable {
  id: string
  tenant_id: string
  /** The path segment of /r/<key>; unique in the tenant. */
  key: string
  partner_id: string
  program_id: string
  /** A deep link on one of the program's hosts; null sends visitors to the program's destination. */
  destination_url: string | null
  created_at: string
  archived_at: string | null
}

export type ClickFlag = 'revoked' | 'velocity'

export interface ClicksTable {
  /** The `cref` visitors carry. */
  id: string
  tenant_id: string
  link_id: string | null
  partner_id: string
  program_id: string
  /** `link` for the router, `coupon` for a redeemed code. */
  source: 'link' | 'coupon'
  /** Keyed hash of the client address; the address itself is never stored. */
  ip_hash: string | null
  user_agent: string | null
  referer: string | null
  sub_source: string | null
  flag: ClickFlag | null
  created_at: string
}

/** Clicks counted by quarter hour (links/click-counts.ts), kept with the clicks they count. */
export interface ClickCountsTable {
  tenant_id: string
  partner_id: string
  program_id: string
  /** The quarter hour's start, an ISO date-time. */
  period_start: string
  clicks: number
  /** Of those, the clicks stored with a flag. */
  flagged: number
}

export interface IdentitiesTable {
  tenant_id: string
  click_id: string
  /** The tenant's own id for its customer (`userId` in the API). */
  customer_id: string
  ip_hash: string | null
  created_at: string
}

export interface CouponsTable {
  id: string
  tenant_id: string
  /** Upper-cased; unique in the tenant. */
  code: string
  partner_id: string
  program_id: string
  created_at: string
  archived_at: string | null
}

export interface EventsTable {
  id: string
  tenant_id: string
  external_event_id: string
  customer_id: string
  type: string
  value_minor: number | null
  currency: string | null
  /** For refunds: the externalEventId of the sale refunded. */
  refund_of: string | null
  customer_email: string | null
  metadata: unknown
  occurred_at: string
  received_at: string
  request_hash: string
  attribution: unknown
}

export interface ReferralsTable {
  tenant_id: string
  customer_id: string
  program_id: string
  /** JSON: [{clickId, partnerId, weightBp}] as attributed at the first conversion. */
  touches: unknown
  model: string
  first_event_id: string
  /** When the customer first paid: recurring rules count their months from here. */
  first_sale_at: string | null
  created_at: string
}

export type CommissionStatus = 'accrued' | 'flagged' | 'approved' | 'paid' | 'reversed' | 'voided'

export interface CommissionsTable {
  id: string
  tenant_id: string
  event_id: string
  partner_id: string
  program_id: string
  click_id: string | null
  customer_id: string
  /** The rule that earned it: signup or sale. */
  trigger: 'signup' | 'sale'
  /** `commission`, or `clawback`: a negative entry taking back part or all of a commission. */
  kind: 'commission' | 'clawback'
  amount_minor: number
  currency: string
  status: CommissionStatus
  /** Why it waits for review: revoked, velocity, self_referral. */
  flag: string | null
  /** End of the holdback: it cannot be approved before. */
  mature_at: string
  reverses_id: string | null
  payout_id: string | null
  created_at: string
  updated_at: string
}

export interface PayoutsTable {
  id: string
  tenant_id: string
  partner_id: string
  currency: string
  /**
   * The sum of its commissions: not bounded by MAX_AMOUNT_MINOR as one amount is, so it may be read
   * back as a bigint (past 2^53). Read it with db/codec.ts readMinor.
   */
  amount_minor: number | bigint
  commission_count: number
  status: 'pending' | 'paid' | 'failed'
  method: string
  reference: string | null
  failure_reason: string | null
  created_at: string
  updated_at: string
  paid_at: string | null
  /** The payout run that made it (`run_…`); null for payouts made before runs were kept. */
  run_id: string | null
}

export interface WebhookEndpointsTable {
  id: string
  tenant_id: string
  url: string
  /** JSON array of event types, or ["*"]. */
  events: unknown
  label: string | null
  /** `standard` (Standard Webhooks headers), `openpartner` (x-openpartner-* headers), or `postback` (a partner's GET template). */
  format: 'standard' | 'openpartner' | 'postback'
  /** The `whsec_…` signing secret, sealed (src/secrets/): an HMAC key must be read back, so it cannot be a digest. */
  secret: string
  /** After a rotation, the old secret (sealed) also signs until previous_secret_until. */
  previous_secret: string | null
  previous_secret_until: string | null
  active: boolean | number
  disabled_reason: string | null
  /** When the current run of failures began; null while deliveries succeed. */
  failing_since: string | null
  created_at: string
  updated_at: string
  /** Set for a partner's postback: only that partner's events reach it. */
  partner_id: string | null
}

export interface WebhookDeliveriesTable {
  id: string
  tenant_id: string
  endpoint_id: string
  event_type: string
  payload: string
  status: 'pending' | 'delivered' | 'failed'
  attempts: number
  next_attempt_at: string
  /** A worker holds the delivery until then; after, another may take it (the first one died). */
  locked_until: string | null
  last_status: number | null
  last_error: string | null
  /** The first bytes of the receiver's last answer (RESPONSE_EXCERPT_BYTES, webhooks/response-excerpt.ts), as text. */
  last_response: string | null
  created_at: string
  delivered_at: string | null
}

export interface AccountLinksTable {
  id: string
  tenant_id: string
  /** `setup`: makes the first owner; `invitation`: lets a new member choose a password. */
  purpose: 'setup' | 'invitation'
  /** The invited member; null for setup. */
  user_id: string | null
  /** SHA-256 of the token in the link; the token itself is shown once. */
  token_hash: string
  created_at: string
  expires_at: string
  used_at: string | null
}

/** Work a migration owes that needs what migrations cannot reach (the sealing key): done by the next start. */
export interface UpkeepTable {
  task: string
  noted_at: string
}

export interface DB {
  tenants: TenantsTable
  upkeep: UpkeepTable
  api_keys: ApiKeysTable
  api_key_index: ApiKeyIndexTable
  users: UsersTable
  memberships: MembershipsTable
  sessions: SessionsTable
  audit_events: AuditEventsTable
  partners: PartnersTable
  programs: ProgramsTable
  enrolments: EnrolmentsTable
  links: LinksTable
  clicks: ClicksTable
  click_counts: ClickCountsTable
  identities: IdentitiesTable
  coupons: CouponsTable
  events: EventsTable
  referrals: ReferralsTable
  commissions: CommissionsTable
  payouts: PayoutsTable
  webhook_endpoints: WebhookEndpointsTable
  webhook_deliveries: WebhookDeliveriesTable
  account_links: AccountLinksTable
}
