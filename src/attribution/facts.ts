/**
 * What attributing and paying for conversions reads, for many customers at once: a batch of events
 * costs the same few statements as one event (the customers' referrals, their identified clicks, the
 * partners of those with their enrolments, the addresses those partners sign in from), and the
 * programs' terms come from their cache (programs/terms.ts). The decisions (events.ts attributeWith,
 * commissions/accrue.ts) read these facts only, and record what they change here: a referral made
 * or its first sale, a commission earned. Each event of a batch sees what the ones before it did,
 * and the changes are written together at the end (flushFacts).
 */
import { type InsertQueryBuilder, type QueryCreator, type SelectQueryBuilder, sql } from 'kysely'
import { jsonArrayFrom as postgresJsonArray } from 'kysely/helpers/postgres'
import { jsonArrayFrom as sqliteJsonArray } from 'kysely/helpers/sqlite'
import { readJson } from '../db/codec.ts'
import type { DB } from '../db/schema.ts'
import { isPostgres } from '../db/tenant-isolation.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { hashAddress } from '../links/visitor.ts'
import { type ProgramTermsCache, type ProgramTermsRow, programTerms } from '../programs/terms.ts'

/** An identified click of a customer's. */
export interface ClickTouch {
  id: string
  partner_id: string
  program_id: string
  flag: string | null
  created_at: string
  ip_hash: string | null
}

type Referral = DB['referrals']

export class AttributionFacts {
  /** Referrals made by this batch's events, to insert; and first sales of stored ones, to update. */
  readonly newReferrals: Referral[] = []
  readonly firstSales: Referral[] = []
  /** Commissions earned by this batch's events, to insert. */
  readonly commissions: DB['commissions'][] = []
  readonly #sessionHashes = new Map<string, Set<string>>()

  constructor(
    /** By customer. */
    private readonly referralsByCustomer: Map<string, Referral[]>,
    /** By customer, oldest first. */
    private readonly clicksByCustomer: Map<string, ClickTouch[]>,
    readonly programs: Map<string, ProgramTermsRow>,
    /** Partners found, by id; absent: gone. */
    readonly partners: Map<string, { status: string; email: string }>,
    /** Enrolment terms (JSON) by `<partner>\n<program>`. */
    private readonly enrolmentTerms: Map<string, unknown>,
    /** The address hash of every click a touch may name, by click id. */
    private readonly clickHashes: Map<string, string | null>,
    /** The addresses the partners' portal users sign in from, by partner. */
    private readonly sessionIps: Map<string, string[]>,
    /** The tenant's key of address hashes (opened), if partners were found and it has one. */
    private readonly salt: string | null,
    /** `<customer>\n<program>\n<partner>` of every signup commission. */
    private readonly signups: Set<string>,
  ) {}

  referrals(customerId: string): Referral[] {
    return this.referralsByCustomer.get(customerId) ?? []
  }

  clicks(customerId: string): ClickTouch[] {
    return this.clicksByCustomer.get(customerId) ?? []
  }

  enrolment(partnerId: string, programId: string): unknown {
    return this.enrolmentTerms.get(`${partnerId}\n${programId}`)
  }

  hasSignup(customerId: string, programId: string, partnerId: string): boolean {
    return this.signups.has(`${customerId}\n${programId}\n${partnerId}`)
  }

  /** Whether the click came from an address the partner's portal users sign in from. */
  fromPartnerAddress(partnerId: string, clickId: string): boolean {
    const clickHash = this.clickHashes.get(clickId)
    if (!clickHash || !this.salt) return false
    let hashes = this.#sessionHashes.get(partnerId)
    if (!hashes) {
      const salt = this.salt
      hashes = new Set((this.sessionIps.get(partnerId) ?? []).map((ip) => hashAddress(salt, ip)!))
      this.#sessionHashes.set(partnerId, hashes)
    }
    return hashes.has(clickHash)
  }

  addReferral(referral: Referral): void {
    this.referralsByCustomer.set(referral.customer_id, [...this.referrals(referral.customer_id), referral])
    this.newReferrals.push(referral)
  }

  setFirstSale(referral: Referral, at: string): void {
    referral.first_sale_at = at
    if (!this.newReferrals.includes(referral)) this.firstSales.push(referral)
  }

  addCommission(row: DB['commissions']): void {
    this.commissions.push(row)
    if (row.trigger === 'signup') this.signups.add(`${row.customer_id}\n${row.program_id}\n${row.partner_id}`)
  }
}

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>()
  for (const row of rows) {
    const k = key(row)
    const list = map.get(k)
    if (list) list.push(row)
    else map.set(k, [row])
  }
  return map
}

export interface FactsOptions {
  programs?: ProgramTermsCache
  /** Whether signup commissions already earned are needed (a signup among the events). */
  signups: boolean
  /** External event ids whose stored events are wanted (the batch's replay check). */
  externalIds?: string[]
}

type SubQuery<O> = SelectQueryBuilder<DB, keyof DB, O>
/** What a replay is answered from. */
export type StoredEvent = Pick<DB['events'], 'id' | 'external_event_id' | 'request_hash' | 'attribution'>

/**
 * Reads the facts about these customers through the open transaction, in one statement: each part a
 * JSON array of rows (json_agg on PostgreSQL, json_group_array on SQLite), so that a batch costs one
 * round trip to read, not one per part. Also the stored events of `externalIds`, if asked.
 */
export async function loadFacts(
  scope: TenantScope,
  customerIds: string[],
  options: FactsOptions,
): Promise<{ facts: AttributionFacts; stored: StoredEvent[] }> {
  const { db, tenantId } = scope
  const customers = [...new Set(customerIds)]
  const json = isPostgres(db) ? postgresJsonArray : sqliteJsonArray
  const clicksOf = db
    .selectFrom('identities')
    .innerJoin('clicks', 'clicks.id', 'identities.click_id')
    .where('identities.tenant_id', '=', tenantId)
    .where('identities.customer_id', 'in', customers)
  const partnersClicked = clicksOf.select('clicks.partner_id')
  const parts = {
    referrals: db
      .selectFrom('referrals')
      .select(['customer_id', 'program_id', 'touches', 'model', 'first_event_id', 'first_sale_at', 'created_at'])
      .where('tenant_id', '=', tenantId)
      .where('customer_id', 'in', customers),
    clicks: clicksOf.select([
      'identities.customer_id',
      'clicks.id',
      'clicks.partner_id',
      'clicks.program_id',
      'clicks.flag',
      'clicks.created_at',
      'clicks.ip_hash',
    ]),
    partners: db
      .selectFrom('partners')
      .select(['id', 'status', 'email'])
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', partnersClicked),
    enrolments: db
      .selectFrom('enrolments')
      .select(['partner_id', 'program_id', 'terms'])
      .where('tenant_id', '=', tenantId)
      .where('partner_id', 'in', partnersClicked),
    sessions: db
      .selectFrom('sessions')
      .innerJoin('memberships', 'memberships.user_id', 'sessions.user_id')
      .select(['memberships.partner_id', 'sessions.ip'])
      .where('memberships.tenant_id', '=', tenantId)
      .where('memberships.partner_id', 'in', partnersClicked)
      .where('sessions.ip', 'is not', null),
  }
  const wanted: Record<string, SubQuery<unknown>> = { ...parts }
  if (options.signups) {
    wanted.signups = db
      .selectFrom('commissions')
      .select(['customer_id', 'program_id', 'partner_id'])
      .where('tenant_id', '=', tenantId)
      .where('customer_id', 'in', customers)
      .where('trigger', '=', 'signup')
  }
  if (options.externalIds?.length) {
    wanted.stored = db
      .selectFrom('events')
      .select(['id', 'external_event_id', 'request_hash', 'attribution'])
      .where('tenant_id', '=', tenantId)
      .where('external_event_id', 'in', options.externalIds)
  }
  const row: Record<string, unknown> = await db
    .selectNoFrom((eb) => [
      ...Object.entries(wanted).map(([name, part]) => json(part).as(name)),
      eb.selectFrom('tenants').select('click_salt').where('id', '=', tenantId).as('salt'),
    ])
    .executeTakeFirstOrThrow()
  const read = <T>(value: unknown) => (value === undefined ? [] : readJson<T[]>(value))
  const referrals = read<Omit<Referral, 'tenant_id'>>(row.referrals).map((r) => ({ ...r, tenant_id: tenantId }))
  const clicks = read<ClickTouch & { customer_id: string }>(row.clicks).sort((a, b) =>
    a.created_at !== b.created_at ? (a.created_at < b.created_at ? -1 : 1) : a.id < b.id ? -1 : 1,
  )
  const partners = read<{ id: string; status: string; email: string }>(row.partners)
  const enrolments = read<{ partner_id: string; program_id: string; terms: unknown }>(row.enrolments)
  const sessions = read<{ partner_id: string; ip: string }>(row.sessions)
  const signups = read<{ customer_id: string; program_id: string; partner_id: string }>(row.signups)

  const programIds = [...new Set([...referrals.map((r) => r.program_id), ...clicks.map((c) => c.program_id)])]
  const programs = await programTerms(scope, programIds, options.programs)
  // A referral's touches name the clicks (and partners) it was made from; one no longer among the
  // customer's identified clicks is read on its own.
  const clickHashes = new Map(clicks.map((c) => [c.id, c.ip_hash]))
  const touches = referrals.flatMap((r) => readJson<{ clickId: string; partnerId: string }[]>(r.touches))
  const unseen = [...new Set(touches.filter((t) => !clickHashes.has(t.clickId)).map((t) => t.clickId))]
  if (unseen.length > 0) {
    const found = await db
      .selectFrom('clicks')
      .select(['id', 'ip_hash'])
      .where('tenant_id', '=', tenantId)
      .where('id', 'in', unseen)
      .execute()
    for (const click of found) clickHashes.set(click.id, click.ip_hash)
  }
  const known = new Set(partners.map((p) => p.id))
  const others = [...new Set(touches.map((t) => t.partnerId).filter((id) => !known.has(id)))]
  if (others.length > 0) {
    partners.push(
      ...(await db
        .selectFrom('partners')
        .select(['id', 'status', 'email'])
        .where('tenant_id', '=', tenantId)
        .where('id', 'in', others)
        .execute()),
    )
    enrolments.push(
      ...(await db
        .selectFrom('enrolments')
        .select(['partner_id', 'program_id', 'terms'])
        .where('tenant_id', '=', tenantId)
        .where('partner_id', 'in', others)
        .execute()),
    )
    sessions.push(
      ...((await db
        .selectFrom('sessions')
        .innerJoin('memberships', 'memberships.user_id', 'sessions.user_id')
        .select(['memberships.partner_id', 'sessions.ip'])
        .where('memberships.tenant_id', '=', tenantId)
        .where('memberships.partner_id', 'in', others)
        .where('sessions.ip', 'is not', null)
        .execute()) as { partner_id: string; ip: string }[]),
    )
  }
  const sealed = row.salt as string | null
  const facts = new AttributionFacts(
    groupBy(referrals, (r) => r.customer_id),
    groupBy(clicks, (c) => c.customer_id),
    new Map(programs.map((p) => [p.id, p])),
    new Map(partners.map((p) => [p.id, { status: p.status, email: p.email }])),
    new Map(enrolments.map((e) => [`${e.partner_id}\n${e.program_id}`, e.terms])),
    clickHashes,
    new Map([...groupBy(sessions, (s) => s.partner_id)].map(([partner, rows]) => [partner, rows.map((s) => s.ip)])),
    sealed ? scope.secrets.open(sealed, { table: 'tenants', id: tenantId }) : null,
    new Set(signups.map((s) => `${s.customer_id}\n${s.program_id}\n${s.partner_id}`)),
  )
  return { facts, stored: read<StoredEvent>(row.stored) }
}

type AnyInsert = InsertQueryBuilder<DB, any, any>
type Insert = (q: QueryCreator<DB>) => AnyInsert

/** Rows in one insert at most. */
const INSERT_CHUNK = 200

/**
 * Writes the batch's events (`events`, new ones) and what they changed: the events first, which the
 * referrals and commissions name. On PostgreSQL the inserts go in one statement (each but the last
 * a CTE: foreign keys are checked once the statement is done), one round trip for the batch.
 */
export async function flushFacts(scope: TenantScope, facts: AttributionFacts, events: DB['events'][] = []): Promise<void> {
  const { db, tenantId } = scope
  const inserts: Insert[] = [
    ...chunks(events).map((rows) => (q: QueryCreator<DB>) => q.insertInto('events').values(rows) as AnyInsert),
    ...chunks(facts.newReferrals).map((rows) => (q: QueryCreator<DB>) => q.insertInto('referrals').values(rows) as AnyInsert),
    ...chunks(facts.commissions).map((rows) => (q: QueryCreator<DB>) => q.insertInto('commissions').values(rows) as AnyInsert),
  ]
  // The first sales come after the referrals they may name (one made earlier in the batch is inserted with it).
  const last = inserts.pop()
  if (last && isPostgres(db)) {
    let query: QueryCreator<DB> = db
    inserts.forEach((insert, i) => {
      query = query.with(`write_${i}`, (q) => insert(q).returning(sql<number>`1`.as('written'))) as unknown as QueryCreator<DB>
    })
    await last(query).execute()
  } else if (last) {
    for (const insert of inserts) await insert(db).execute()
    await last(db).execute()
  }
  for (const referral of facts.firstSales) {
    await db
      .updateTable('referrals')
      .set({ first_sale_at: referral.first_sale_at })
      .where('tenant_id', '=', tenantId)
      .where('customer_id', '=', referral.customer_id)
      .where('program_id', '=', referral.program_id)
      .execute()
  }
}

function chunks<T>(rows: T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) out.push(rows.slice(i, i + INSERT_CHUNK))
  return out
}
