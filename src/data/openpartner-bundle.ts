/**
 * OpenPartner's export bundle, `{exportedAt, schemaVersion, tables: {Partner: […], Program: […], …}}`
 * (its GET /export.json, whose rows are its database rows), in both directions: how its users move
 * over (POST /import), and how a partnerd tenant is told in its shape (GET /export.json). partnerd's
 * own export (transfer.ts) stays the lossless one; this is a translation, and says where it
 * approximates (`report.notes`).
 *
 * Ids are kept: OpenPartner's partner, program, link, click (the `cref` visitors carry), event,
 * commission and payout ids stay what they were, so links, crefs and references elsewhere still
 * resolve. What partnerd holds otherwise is derived on the way in:
 *
 * - Attribution rows fold into their event's attribution (touches with weights), and the first
 *   attributed sign-up or sale of a customer in a program becomes its referral, so renewals keep
 *   earning on recurring rules.
 * - PartnerProgram grants (and the pairs that links, coupons and commissions imply) become
 *   enrolments, on the program's terms or the partner's PartnerCommission snapshot.
 * - A commission in a payout that is still pending is `approved` (partnerd counts a commission paid
 *   when its payout is; OpenPartner marked it paid when the run made the payout).
 * - Negative CommissionAdjustments become clawbacks, one per commission (their sum).
 *
 * An import is one transaction: every row fits, or none is written (400 invalid_export names the
 * row; 409 import_conflict one whose id or unique value, an email or a link key, is taken on the
 * server). A row whose id the tenant has already is skipped, so importing the same bundle again
 * inserts nothing new (OpenPartner's report counts `inserted` and `skipped` per table).
 */
import { createHash } from 'node:crypto'
import { Value } from '@sinclair/typebox/value'
import type { Kysely } from 'kysely'
import { attributionIdOf } from '../attribution/attribution-ids.ts'
import { triggerOf } from '../attribution/events.ts'
import type { Touch } from '../commissions/accrue.ts'
import { readJson, readMinor, writeJson } from '../db/codec.ts'
import { isTransientConflict, isUniqueViolation } from '../db/errors.ts'
import type { ClickFlag, CommissionStatus, DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import type { ClickRow } from '../links/click-columns.ts'
import { addClickCounts } from '../links/click-counts.ts'
import { metadataText } from '../metadata.ts'
import { currencyDigits, formatAmount, importedAmount } from '../money/money.ts'
import { ruleOf, SubRule, subRuleOf } from '../programs/openpartner.ts'
import { formatRules, parseRules, type StoredRule } from '../programs/rules.ts'
import { defaultCurrency } from '../tenants/service.ts'
import { normalizeEmail } from '../users/service.ts'

/** The bundle version written; the versions read (v1 bundles lack grants, snapshots and coupons). */
export const OPENPARTNER_SCHEMA_VERSION = 2
const READABLE_VERSIONS = [1, 2]

type Row = Record<string, unknown>
export interface OpenPartnerBundle {
  exportedAt?: string
  schemaVersion: number
  tables: Record<string, Row[]>
}

/** Whether a document posted to /import is OpenPartner's bundle rather than partnerd's own export. */
export function isOpenPartnerBundle(document: Record<string, unknown>): boolean {
  return 'schemaVersion' in document && 'tables' in document && !('format' in document)
}

function invalid(detail: string): AppError {
  return new AppError(400, 'invalid_export', detail)
}

// ---------------------------------------------------------------------------------------------
// Out: a partnerd tenant in OpenPartner's shape.
// ---------------------------------------------------------------------------------------------

/** OpenPartner's statuses: partnerd's review states are its `accrued` (flagged) and `reversed` (voided). */
const OUT_STATUS: Record<CommissionStatus, string> = {
  accrued: 'accrued',
  flagged: 'accrued',
  approved: 'approved',
  paid: 'paid',
  reversed: 'reversed',
  voided: 'reversed',
}

export async function exportOpenPartnerBundle(scope: TenantScope): Promise<OpenPartnerBundle> {
  const tenantId = scope.tenantId
  // Every table read is tenant-owned: read in the order its rows came (events by when they happened).
  const all = <T extends keyof DB>(table: T) =>
    (scope.db as unknown as Kysely<Record<string, Row>>)
      .selectFrom(table)
      .selectAll()
      .where('tenant_id', '=', tenantId)
      .orderBy(table === 'events' ? 'occurred_at' : 'created_at')
      .orderBy(table === 'identities' ? 'click_id' : 'id')
      .execute() as unknown as Promise<DB[T][]>
  const programs = await all('programs')
  const destinationOf = new Map(programs.map((p) => [p.id, p.destination_url]))
  const links = await all('links')
  const linkDestination = new Map(links.map((l) => [l.id, l.destination_url ?? destinationOf.get(l.program_id) ?? null]))
  const events = await all('events')
  const commissions = await all('commissions')
  const iso = (at: string | null) => (at === null ? null : new Date(at).toISOString())

  const tables: Record<string, Row[]> = {
    Partner: (await all('partners')).map((p) => ({
      id: p.id,
      tenantId,
      email: p.email,
      // OpenPartner requires a name.
      name: p.name ?? p.email,
      stripeConnectAccountId: null,
      metadata: readJson(p.metadata),
      createdAt: p.created_at,
      updatedAt: p.updated_at,
      activatedAt: p.activated_at,
      revokedAt: p.revoked_at,
      revokeReason: null,
    })),
    Program: programs.map((p) => ({
      id: p.id,
      tenantId,
      name: p.name,
      currency: p.currency,
      status: p.status,
      commissionRule: rulesOut(readJson<StoredRule[]>(p.rules), p.currency),
      attributionWindowDays: p.attribution_window_days,
      attributionModel: p.attribution_model,
      destinationUrl: p.destination_url,
      deepLinkAllowedDomains: readJson<string[]>(p.deep_link_hosts).join(',') || null,
      holdbackDays: p.holdback_days,
      createdAt: p.created_at,
      updatedAt: p.updated_at,
    })),
    PartnerProgram: (await all('enrolments')).map((e) => ({
      id: e.id,
      tenantId,
      partnerId: e.partner_id,
      programId: e.program_id,
      source: 'admin',
      createdAt: e.created_at,
    })),
    Coupon: (await all('coupons')).map((c) => ({
      id: c.id,
      tenantId,
      partnerId: c.partner_id,
      programId: c.program_id,
      code: c.code,
      createdAt: c.created_at,
      archivedAt: c.archived_at,
    })),
    Link: links.map((l) => ({
      id: l.id,
      tenantId,
      linkKey: l.key,
      partnerId: l.partner_id,
      programId: l.program_id,
      destinationUrl: linkDestination.get(l.id),
      createdAt: l.created_at,
      archivedAt: l.archived_at,
    })),
    Click: (await all('clicks')).map((c) => ({
      id: c.id,
      tenantId,
      linkId: c.link_id,
      partnerId: c.partner_id,
      programId: c.program_id,
      // partnerd keeps where a click went by its link, not per click.
      landingUrl: (c.link_id ? linkDestination.get(c.link_id) : destinationOf.get(c.program_id)) ?? null,
      ipHash: c.ip_hash,
      userAgent: c.user_agent,
      referer: c.referer,
      fraudFlag: c.flag,
      subSource: c.sub_source,
      ts: c.created_at,
    })),
    Identity: (await all('identities')).map((i) => ({
      id: `idn_${i.click_id}`,
      tenantId,
      clickId: i.click_id,
      userId: i.customer_id,
      stitchedAt: i.created_at,
    })),
    Event: events.map((e) => ({
      id: e.id,
      tenantId,
      userId: e.customer_id,
      type: e.type,
      value: e.value_minor === null || e.currency === null ? null : formatAmount(readMinor(e.value_minor), e.currency),
      currency: e.currency,
      externalEventId: e.external_event_id,
      metadata: readJson(e.metadata),
      ts: e.occurred_at,
    })),
    Attribution: events.flatMap((e) => {
      const attribution = readJson<{
        model: string | null
        touches: { clickId: string; partnerId: string; programId: string; weight: string }[]
      }>(e.attribution)
      return attribution.touches.map((t) => ({
        id: attributionIdOf(e.id, t.clickId),
        tenantId,
        eventId: e.id,
        partnerId: t.partnerId,
        programId: t.programId,
        clickId: t.clickId,
        model: attribution.model,
        weight: t.weight,
        computedAt: e.received_at,
      }))
    }),
    Commission: commissions
      .filter((c) => c.kind === 'commission')
      .map((c) => ({
        id: c.id,
        tenantId,
        attributionId: c.click_id ? attributionIdOf(c.event_id, c.click_id) : null,
        partnerId: c.partner_id,
        programId: c.program_id,
        amount: formatAmount(c.amount_minor, c.currency),
        currency: c.currency,
        status: OUT_STATUS[c.status],
        accruedAt: c.created_at,
        paidAt: c.status === 'paid' ? c.updated_at : null,
        payoutId: c.payout_id,
      })),
    CommissionAdjustment: commissions
      .filter((c) => c.kind === 'clawback')
      .map((c) => ({
        id: c.id,
        tenantId,
        commissionId: c.reverses_id,
        amount: formatAmount(c.amount_minor, c.currency),
        currency: c.currency,
        reason: 'clawback',
        metadata: { eventId: c.event_id, status: c.status },
        payoutId: c.payout_id,
        createdAt: c.created_at,
      })),
    Payout: (await all('payouts')).map((p) => ({
      id: p.id,
      tenantId,
      partnerId: p.partner_id,
      amount: formatAmount(readMinor(p.amount_minor), p.currency),
      currency: p.currency,
      method: p.method,
      stripeTransferId: null,
      status: p.status,
      metadata: { runId: p.run_id, commissionCount: p.commission_count, reference: p.reference, failureReason: p.failure_reason },
      createdAt: p.created_at,
      completedAt: iso(p.paid_at),
    })),
  }
  return { exportedAt: new Date().toISOString(), schemaVersion: OPENPARTNER_SCHEMA_VERSION, tables }
}

/** A program's rules in OpenPartner's list shape, as its answers write them (programs/openpartner.ts). */
function rulesOut(rules: StoredRule[], currency: string): Row[] {
  return formatRules(rules, currency).map((rule) => subRuleOf(rule, currency))
}

// ---------------------------------------------------------------------------------------------
// In: an OpenPartner bundle into a partnerd tenant.
// ---------------------------------------------------------------------------------------------

export interface ImportReport {
  inserted: Record<string, number>
  skipped: Record<string, number>
  /** What had no exact partnerd form, and what became of it. */
  notes: string[]
}

/** The partnerd rows a bundle becomes, in insertion order (foreign keys point backwards). */
interface Translated {
  programs: DB['programs'][]
  partners: DB['partners'][]
  /** Enrolments from PartnerProgram grants. */
  grants: DB['enrolments'][]
  /** Enrolments the bundle's links, coupons and commissions imply (a v1 bundle has no grants). */
  implied: DB['enrolments'][]
  links: DB['links'][]
  coupons: DB['coupons'][]
  clicks: DB['clicks'][]
  identities: DB['identities'][]
  events: DB['events'][]
  referrals: DB['referrals'][]
  payouts: DB['payouts'][]
  commissions: DB['commissions'][]
  clawbacks: DB['commissions'][]
}

/** Each partnerd table, the OpenPartner table its rows are counted under, and the columns naming a row. */
const TARGETS: { rows: keyof Translated; table: keyof DB; source: string | null; key: string[] }[] = [
  { rows: 'programs', table: 'programs', source: 'Program', key: ['id'] },
  { rows: 'partners', table: 'partners', source: 'Partner', key: ['id'] },
  { rows: 'grants', table: 'enrolments', source: 'PartnerProgram', key: ['partner_id', 'program_id'] },
  { rows: 'implied', table: 'enrolments', source: null, key: ['partner_id', 'program_id'] },
  { rows: 'links', table: 'links', source: 'Link', key: ['id'] },
  { rows: 'coupons', table: 'coupons', source: 'Coupon', key: ['id'] },
  { rows: 'clicks', table: 'clicks', source: 'Click', key: ['id'] },
  { rows: 'identities', table: 'identities', source: 'Identity', key: ['click_id'] },
  { rows: 'events', table: 'events', source: 'Event', key: ['id'] },
  { rows: 'referrals', table: 'referrals', source: null, key: ['customer_id', 'program_id'] },
  { rows: 'payouts', table: 'payouts', source: 'Payout', key: ['id'] },
  { rows: 'commissions', table: 'commissions', source: 'Commission', key: ['id'] },
  { rows: 'clawbacks', table: 'commissions', source: 'CommissionAdjustment', key: ['id'] },
]
const JSON_COLUMNS: Partial<Record<keyof DB, string[]>> = {
  programs: ['deep_link_hosts', 'rules'],
  partners: ['metadata'],
  enrolments: ['terms'],
  events: ['metadata', 'attribution'],
  referrals: ['touches'],
}

export async function importOpenPartnerBundle(scope: TenantScope, document: Record<string, unknown>): Promise<ImportReport> {
  const bundle = readBundle(document)
  const notes: string[] = []
  const rows = translate(scope.tenantId, bundle, notes, await defaultCurrency(scope))
  const inserted: Record<string, number> = {}
  const skipped: Record<string, number> = {}
  const count = (into: Record<string, number>, table: string | null, n: number) => {
    if (table && n > 0) into[table] = (into[table] ?? 0) + n
  }
  let freshEvents = new Set<string>()
  let freshPartners = new Set<string>()
  for (const target of TARGETS) {
    const fresh = await withoutKnown(scope, target.table, target.key, rows[target.rows] as unknown as Row[])
    for (const [i, row] of fresh.entries()) {
      const values: Row = { ...row }
      for (const column of JSON_COLUMNS[target.table] ?? []) values[column] = writeJson(readJson(values[column]))
      try {
        await scope.db
          .insertInto(target.table)
          .values(values as never)
          .execute()
      } catch (err) {
        // A lock conflict is no fault of the bundle: the whole import is tried again (db/with-tenant.ts).
        if (isTransientConflict(err)) throw err
        // Ids are kept, and unique on the server: a bundle goes into one organization (as OpenPartner
        // allows its import on a self-hosted, single-tenant install only), and an email or link key
        // taken here by another row is a conflict to resolve before importing.
        if (isUniqueViolation(err))
          throw new AppError(
            409,
            'import_conflict',
            `${target.source ?? target.table}.${i}: a row here already holds its id or a unique value of it (${(err as Error).message.split('\n')[0]!.slice(0, 160)})`,
          )
        throw invalid(`${target.source ?? target.table}.${i}: ${(err as Error).message.split('\n')[0]!.slice(0, 200)}`)
      }
    }
    if (target.rows === 'clicks') await addClickCounts(scope.db, fresh as unknown as ClickRow[])
    if (target.rows === 'events') freshEvents = new Set(fresh.map((e) => String(e.id)))
    if (target.rows === 'partners') freshPartners = new Set(fresh.map((p) => String(p.id)))
    count(inserted, target.source, fresh.length)
    count(skipped, target.source, rows[target.rows].length - fresh.length)
  }
  // Rows that live on inside others: attributions in their events, snapshots in their partners' terms.
  const folded = (table: string, isNew: (row: Row) => boolean) => {
    const all = bundle.tables[table] ?? []
    const fresh = all.filter(isNew).length
    count(inserted, table, fresh)
    count(skipped, table, all.length - fresh)
  }
  folded('Attribution', (a) => freshEvents.has(String(a.eventId)))
  folded('PartnerCommission', (s) => freshPartners.has(String(s.partnerId)))
  folded('PortalCustomDomain', () => false)
  scope.emit('tenant.imported', { format: 'openpartner', inserted, skipped })
  return { inserted, skipped, notes }
}

function readBundle(document: Record<string, unknown>): OpenPartnerBundle {
  const version = document.schemaVersion
  if (typeof version !== 'number' || !READABLE_VERSIONS.includes(version)) {
    throw new AppError(
      400,
      'unsupported_schema_version',
      `this server reads OpenPartner bundles of schemaVersion ${READABLE_VERSIONS.join(', ')}`,
    )
  }
  const tables = document.tables
  if (!tables || typeof tables !== 'object' || Array.isArray(tables)) throw invalid('tables must be an object of tables')
  for (const [name, rows] of Object.entries(tables)) {
    if (!Array.isArray(rows)) throw invalid(`tables.${name} must be an array`)
    for (const [i, row] of rows.entries())
      if (!row || typeof row !== 'object' || Array.isArray(row)) throw invalid(`tables.${name}.${i} must be an object`)
  }
  const t = tables as Record<string, Row[]>
  // Programs were campaigns once, and grants PartnerCampaign: older bundles read the same.
  return {
    schemaVersion: version,
    tables: { ...t, Program: t.Program ?? t.Campaign ?? [], PartnerProgram: t.PartnerProgram ?? t.PartnerCampaign ?? [] },
  }
}

/** The rows whose key the tenant does not hold yet. */
async function withoutKnown(scope: TenantScope, table: keyof DB, key: string[], rows: Row[]): Promise<Row[]> {
  if (rows.length === 0) return rows
  const known = new Set<string>()
  const keyOf = (row: Row) => key.map((k) => String(row[k])).join('\n')
  for (let i = 0; i < rows.length; i += 500) {
    const slice = rows.slice(i, i + 500)
    let q = scope.db
      .selectFrom(table)
      .select(key as never[])
      .where('tenant_id' as never, '=', scope.tenantId as never)
    q = q.where(key[0] as never, 'in', [...new Set(slice.map((r) => r[key[0]!]))] as never)
    for (const found of (await q.execute()) as Row[]) known.add(keyOf(found))
  }
  return rows.filter((row) => !known.has(keyOf(row)))
}

/** Reads fields of one bundle row, naming the row in every refusal. */
function fields(table: string, i: number, row: Row) {
  const where = (name: string) => `${table}.${i}.${name}`
  const text = (name: string, ...aliases: string[]): string => {
    for (const n of [name, ...aliases]) {
      const v = row[n]
      if (typeof v === 'string' && v !== '') return v
      if (typeof v === 'number') return String(v)
    }
    throw invalid(`${where(name)} is missing`)
  }
  const optional = (name: string, ...aliases: string[]): string | null => {
    for (const n of [name, ...aliases]) {
      const v = row[n]
      if (typeof v === 'string' && v !== '') return v
      if (typeof v === 'number') return String(v)
    }
    return null
  }
  const time = (name: string, fallback?: string | null): string => {
    const v = row[name] ?? fallback
    const at = typeof v === 'string' || typeof v === 'number' ? new Date(v) : new Date(Number.NaN)
    if (Number.isNaN(at.getTime())) throw invalid(`${where(name)} must be an ISO date-time (got ${JSON.stringify(row[name])})`)
    return at.toISOString()
  }
  const optionalTime = (name: string): string | null => (row[name] === null || row[name] === undefined ? null : time(name))
  const object = (name: string): Record<string, unknown> => {
    const v = typeof row[name] === 'string' ? safeParse(row[name] as string) : row[name]
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  }
  const wrap = <T>(name: string, read: () => T): T => {
    try {
      return read()
    } catch (err) {
      if (err instanceof AppError && err.code !== 'invalid_export') throw invalid(`${where(name)}: ${err.detail ?? err.code}`)
      throw err
    }
  }
  return { where, text, optional, time, optionalTime, object, wrap }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

const MODELS = new Set(['last_click', 'first_click', 'linear', 'position'])
const PROGRAM_STATUSES = new Set(['draft', 'active', 'paused', 'archived'])
const IMPORTED_STATUS: Record<string, CommissionStatus> = { accrued: 'accrued', approved: 'approved', paid: 'paid', reversed: 'reversed' }

/** The bundle's rows as partnerd's; a program naming no currency, nor paying in one, takes `tenantCurrency`. */
function translate(tenantId: string, bundle: OpenPartnerBundle, notes: string[], tenantCurrency: string): Translated {
  const t = bundle.tables
  const list = (name: string) => t[name] ?? []
  const note = (text: string) => {
    if (!notes.includes(text)) notes.push(text)
  }

  // Events and attributions first: what programs' currencies and commissions are read from.
  const attributions = new Map<string, Row>()
  for (const a of list('Attribution')) if (typeof a.id === 'string') attributions.set(a.id, a)
  const programOfAttribution = (a: Row) => (a.programId ?? a.campaignId) as string | undefined
  const commissionCurrency = new Map<string, string>()
  for (const c of list('Commission')) {
    const a = attributions.get(String(c.attributionId))
    const program = a && programOfAttribution(a)
    if (program && typeof c.currency === 'string') commissionCurrency.set(program, c.currency)
  }
  const linkDestinations = new Map<string, string>()
  for (const l of list('Link')) {
    const program = (l.programId ?? l.campaignId) as string | undefined
    if (program && typeof l.destinationUrl === 'string' && !linkDestinations.has(program)) linkDestinations.set(program, l.destinationUrl)
  }

  // Programs.
  const programs = list('Program').map((row, i): DB['programs'] => {
    const f = fields('Program', i, row)
    const id = f.text('id')
    const currency = f.wrap('currency', () => {
      const c = f.optional('currency') ?? commissionCurrency.get(id) ?? tenantCurrency
      currencyDigits(c)
      return c
    })
    const destination = f.optional('destinationUrl') ?? linkDestinations.get(id)
    if (!destination) throw invalid(`${f.where('destinationUrl')} is missing, and no link of the program names one`)
    const model = f.optional('attributionModel') ?? 'last_click'
    if (!MODELS.has(model)) throw invalid(`${f.where('attributionModel')}: ${model} is not an attribution model`)
    const windowDays = Number(row.attributionWindowDays ?? 60)
    const holdbackDays = Number(row.holdbackDays ?? 0)
    if (!Number.isInteger(windowDays) || windowDays < 1) throw invalid(`${f.where('attributionWindowDays')} must be a whole number of days`)
    if (!Number.isInteger(holdbackDays) || holdbackDays < 0) throw invalid(`${f.where('holdbackDays')} must be a whole number of days`)
    const status = f.optional('status')
    const rules = f.wrap('commissionRule', () => rulesIn(row.commissionRule, currency, `Program ${id}`, note))
    const at = f.time('createdAt', new Date().toISOString())
    return {
      id,
      tenant_id: tenantId,
      name: f.text('name'),
      currency,
      status: status && PROGRAM_STATUSES.has(status) ? (status as DB['programs']['status']) : 'active',
      destination_url: destination,
      deep_link_hosts: (f.optional('deepLinkAllowedDomains') ?? '')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
      attribution_window_days: windowDays,
      attribution_model: model as DB['programs']['attribution_model'],
      holdback_days: holdbackDays,
      rules,
      created_at: at,
      updated_at: f.time('updatedAt', at),
    }
  })
  const programById = new Map(programs.map((p) => [p.id, p]))
  const programOf = (table: string, i: number, row: Row): DB['programs'] => {
    const id = (row.programId ?? row.campaignId) as string | undefined
    const program = id ? programById.get(id) : undefined
    if (!program) throw invalid(`${table}.${i}.programId: no program ${id ?? '(none)'} in the bundle`)
    return program
  }

  // Partners.
  const partners = list('Partner').map((row, i): DB['partners'] => {
    const f = fields('Partner', i, row)
    const metadata = f.object('metadata')
    if (typeof row.stripeConnectAccountId === 'string') {
      metadata.stripeConnectAccountId = row.stripeConnectAccountId
      note('Partner.stripeConnectAccountId is kept in the partner’s metadata: partnerd pays through its payout providers')
    }
    const at = f.time('createdAt', new Date().toISOString())
    const revokedAt = f.optionalTime('revokedAt')
    return {
      id: f.text('id'),
      tenant_id: tenantId,
      email: f.wrap('email', () => normalizeEmail(f.text('email'))),
      name: f.optional('name'),
      status: revokedAt ? 'revoked' : 'active',
      metadata: f.wrap('metadata', () => metadataText(metadata)),
      created_at: at,
      updated_at: f.time('updatedAt', at),
      revoked_at: revokedAt,
      activated_at: f.optionalTime('activatedAt'),
    }
  })
  const partnerIds = new Set(partners.map((p) => p.id))
  const partnerOf = (table: string, i: number, row: Row): string => {
    const id = row.partnerId
    if (typeof id !== 'string' || !partnerIds.has(id)) throw invalid(`${table}.${i}.partnerId: no partner ${String(id)} in the bundle`)
    return id
  }

  // A partner's snapshot of terms (PartnerCommission), for its enrolments.
  const snapshots = new Map<string, Row>()
  for (const s of list('PartnerCommission')) if (typeof s.partnerId === 'string') snapshots.set(s.partnerId, s)
  const holdbackOf = (partnerId: string, program: DB['programs']) => {
    const snapshot = snapshots.get(partnerId)?.holdbackDays
    return typeof snapshot === 'number' && snapshot >= 0 ? snapshot : program.holdback_days
  }
  const termsOf = (partnerId: string, program: DB['programs']) => {
    const snapshot = snapshots.get(partnerId)
    const rules = snapshot
      ? rulesIn(snapshotRules(snapshot), program.currency, `PartnerCommission ${partnerId}`, note)
      : (program.rules as StoredRule[])
    return { rules, holdbackDays: holdbackOf(partnerId, program) }
  }

  // Enrolments: the grants, and the pairs links, coupons and commissions imply.
  const enrolments = new Map<string, DB['enrolments'] & { granted: boolean }>()
  const enrolAt = (partnerId: string, program: DB['programs'], at: string, grant?: { id: string | null }) => {
    const key = `${partnerId}\n${program.id}`
    if (!enrolments.has(key))
      enrolments.set(key, {
        granted: grant !== undefined,
        id: grant?.id ?? newId('enrolment'),
        tenant_id: tenantId,
        partner_id: partnerId,
        program_id: program.id,
        terms: termsOf(partnerId, program),
        created_at: at,
        updated_at: at,
      })
  }
  for (const [i, row] of list('PartnerProgram').entries()) {
    const f = fields('PartnerProgram', i, row)
    enrolAt(partnerOf('PartnerProgram', i, row), programOf('PartnerProgram', i, row), f.time('createdAt', new Date().toISOString()), {
      id: f.optional('id'),
    })
  }

  const links = list('Link').map((row, i): DB['links'] => {
    const f = fields('Link', i, row)
    const program = programOf('Link', i, row)
    const partnerId = partnerOf('Link', i, row)
    const at = f.time('createdAt', program.created_at)
    enrolAt(partnerId, program, at)
    const destination = f.optional('destinationUrl')
    return {
      id: f.text('id'),
      tenant_id: tenantId,
      key: f.text('linkKey', 'key'),
      partner_id: partnerId,
      program_id: program.id,
      destination_url: destination && destination !== program.destination_url ? destination : null,
      created_at: at,
      archived_at: f.optionalTime('archivedAt'),
    }
  })

  const coupons = list('Coupon').map((row, i): DB['coupons'] => {
    const f = fields('Coupon', i, row)
    const program = programOf('Coupon', i, row)
    const partnerId = partnerOf('Coupon', i, row)
    const at = f.time('createdAt', program.created_at)
    enrolAt(partnerId, program, at)
    return {
      id: f.text('id'),
      tenant_id: tenantId,
      code: f.text('code').toUpperCase(),
      partner_id: partnerId,
      program_id: program.id,
      created_at: at,
      archived_at: f.optionalTime('archivedAt'),
    }
  })

  const clicks = list('Click').map((row, i): DB['clicks'] => {
    const f = fields('Click', i, row)
    const flag = f.optional('fraudFlag')
    if (flag && flag !== 'velocity' && flag !== 'revoked')
      note(`clicks flagged ${flag} are kept flagged (as velocity): they wait for review`)
    return {
      id: f.text('id'),
      tenant_id: tenantId,
      link_id: f.optional('linkId'),
      partner_id: partnerOf('Click', i, row),
      program_id: programOf('Click', i, row).id,
      // A click without a link came from a coupon (OpenPartner's synthetic click for a redemption).
      source: f.optional('linkId') ? 'link' : 'coupon',
      ip_hash: f.optional('ipHash'),
      user_agent: f.optional('userAgent'),
      referer: f.optional('referer'),
      sub_source: f.optional('subSource'),
      flag: flag ? ((flag === 'revoked' ? 'revoked' : 'velocity') as ClickFlag) : null,
      created_at: f.time('ts', row.createdAt as string | undefined),
    }
  })
  const clickById = new Map(clicks.map((c) => [c.id, c]))

  const identities = new Map<string, DB['identities']>()
  for (const [i, row] of list('Identity').entries()) {
    const f = fields('Identity', i, row)
    const clickId = f.text('clickId')
    if (!clickById.has(clickId)) throw invalid(`${f.where('clickId')}: no click ${clickId} in the bundle`)
    // A click belongs to one customer: the first identity of it stands.
    if (identities.has(clickId)) {
      note('a click identified to several customers keeps the first')
      continue
    }
    identities.set(clickId, {
      tenant_id: tenantId,
      click_id: clickId,
      customer_id: f.text('userId'),
      ip_hash: null,
      created_at: f.time('stitchedAt', row.createdAt as string | undefined),
    })
  }

  // Events, with their attribution folded in.
  const touchesOf = new Map<string, { row: Row; click: DB['clicks'] }[]>()
  for (const [i, a] of list('Attribution').entries()) {
    const f = fields('Attribution', i, a)
    const eventId = f.text('eventId')
    const click = clickById.get(f.text('clickId'))
    if (!click) throw invalid(`${f.where('clickId')}: no click ${String(a.clickId)} in the bundle`)
    touchesOf.set(eventId, [...(touchesOf.get(eventId) ?? []), { row: a, click }])
  }
  const events = list('Event').map((row, i): DB['events'] => {
    const f = fields('Event', i, row)
    const id = f.text('id')
    const value = row.value === null || row.value === undefined ? null : row.value
    const currency = f.optional('currency') ?? (value === null ? null : 'USD')
    if (value !== null && !f.optional('currency')) note('events with a value and no currency are taken as USD, as OpenPartner took them')
    const touches = (touchesOf.get(id) ?? []).map(({ row: a, click }) => ({
      clickId: click.id,
      partnerId: click.partner_id,
      programId: click.program_id,
      weight: String(Number(a.weight ?? 1)),
    }))
    const model = touches.length > 0 ? String((touchesOf.get(id) ?? [])[0]!.row.model ?? 'last_click') : null
    const at = f.time('ts', row.createdAt as string | undefined)
    return {
      id,
      tenant_id: tenantId,
      // partnerd keys events by the sender's id; one OpenPartner did not keep gets one of its own.
      external_event_id: f.optional('externalEventId') ?? `openpartner:${id}`,
      customer_id: f.text('userId'),
      type: f.text('type'),
      value_minor: value === null ? null : f.wrap('value', () => importedAmount(value, currency!, 'value')),
      currency,
      refund_of: null,
      customer_email: null,
      metadata: f.wrap('metadata', () => metadataText(f.object('metadata'))),
      occurred_at: at,
      received_at: at,
      // No request partnerd saw: a replay of this externalEventId is told apart (409 event_conflict).
      request_hash: createHash('sha256').update(`openpartner-import\n${id}`).digest('hex'),
      attribution: { status: touches.length > 0 ? 'attributed' : 'unattributed', model, touches },
    }
  })
  const eventById = new Map(events.map((e) => [e.id, e]))

  // Referrals: a customer's first attributed sign-up or sale in a program fixes who referred it.
  const referrals = new Map<string, DB['referrals']>()
  for (const event of [...events].sort((a, b) => a.occurred_at.localeCompare(b.occurred_at) || a.id.localeCompare(b.id))) {
    const trigger = triggerOf(event.type)
    if (trigger !== 'signup' && trigger !== 'sale') continue
    const attribution = event.attribution as {
      model: string
      touches: { clickId: string; partnerId: string; programId: string; weight: string }[]
    }
    for (const programId of new Set(attribution.touches.map((x) => x.programId))) {
      const key = `${event.customer_id}\n${programId}`
      const known = referrals.get(key)
      if (known) {
        if (trigger === 'sale' && known.first_sale_at === null) known.first_sale_at = event.occurred_at
        continue
      }
      const touches: Touch[] = attribution.touches
        .filter((x) => x.programId === programId)
        .map((x) => ({
          clickId: x.clickId,
          partnerId: x.partnerId,
          programId,
          weightBp: Math.round(Number(x.weight) * 10_000),
          flag: clickById.get(x.clickId)?.flag ?? null,
        }))
      referrals.set(key, {
        tenant_id: tenantId,
        customer_id: event.customer_id,
        program_id: programId,
        touches,
        model: attribution.model,
        first_event_id: event.id,
        first_sale_at: trigger === 'sale' ? event.occurred_at : null,
        created_at: event.occurred_at,
      })
    }
  }

  // Payouts.
  const payoutRows = list('Payout').map((row, i) => ({ row, i }))
  const commissionsInPayout = new Map<string, number>()
  for (const c of list('Commission'))
    if (typeof c.payoutId === 'string') commissionsInPayout.set(c.payoutId, (commissionsInPayout.get(c.payoutId) ?? 0) + 1)
  const payouts = payoutRows.map(({ row, i }): DB['payouts'] => {
    const f = fields('Payout', i, row)
    const id = f.text('id')
    const currency = f.wrap('currency', () => {
      const c = f.text('currency')
      currencyDigits(c)
      return c
    })
    const metadata = f.object('metadata')
    const status = f.text('status')
    if (status !== 'pending' && status !== 'paid' && status !== 'failed')
      throw invalid(`${f.where('status')}: ${status} is not a payout status`)
    const at = f.time('createdAt', new Date().toISOString())
    const completedAt = f.optionalTime('completedAt')
    return {
      id,
      tenant_id: tenantId,
      partner_id: partnerOf('Payout', i, row),
      currency,
      amount_minor: BigInt(f.wrap('amount', () => importedAmount(row.amount, currency, 'amount'))),
      commission_count: typeof metadata.commissionCount === 'number' ? metadata.commissionCount : (commissionsInPayout.get(id) ?? 0),
      status,
      method: f.optional('method') ?? 'manual',
      reference: f.optional('stripeTransferId') ?? (typeof metadata.reference === 'string' ? metadata.reference : null),
      failure_reason:
        typeof metadata.error === 'string' ? metadata.error : typeof metadata.failureReason === 'string' ? metadata.failureReason : null,
      created_at: at,
      updated_at: completedAt ?? at,
      paid_at: status === 'paid' ? (completedAt ?? at) : null,
      run_id: typeof metadata.runId === 'string' ? metadata.runId : null,
    }
  })
  const payoutById = new Map(payouts.map((p) => [p.id, p]))

  // Commissions: each through its attribution to its event, click and program.
  const commissions = list('Commission').map((row, i): DB['commissions'] => {
    const f = fields('Commission', i, row)
    const attribution = attributions.get(f.text('attributionId'))
    if (!attribution) throw invalid(`${f.where('attributionId')}: no attribution ${String(row.attributionId)} in the bundle`)
    const event = eventById.get(String(attribution.eventId))
    if (!event) throw invalid(`${f.where('attributionId')}: its event ${String(attribution.eventId)} is not in the bundle`)
    const click = clickById.get(String(attribution.clickId))
    const program = programById.get(String(row.programId ?? programOfAttribution(attribution) ?? click?.program_id))
    if (!program) throw invalid(`${f.where('programId')}: its program is not in the bundle`)
    const partnerId = partnerOf('Commission', i, row)
    const currency = f.wrap('currency', () => {
      const c = f.text('currency')
      currencyDigits(c)
      return c
    })
    const accruedAt = f.time('accruedAt', row.createdAt as string | undefined)
    const payoutId = f.optional('payoutId')
    const payout = payoutId ? payoutById.get(payoutId) : undefined
    if (payoutId && !payout) throw invalid(`${f.where('payoutId')}: no payout ${payoutId} in the bundle`)
    let status = IMPORTED_STATUS[f.text('status')]
    if (!status) throw invalid(`${f.where('status')}: ${String(row.status)} is not a commission status`)
    // partnerd counts a commission paid when its payout is; a failed payout returns it to the pool.
    if (payout?.status !== 'paid' && payout && status === 'paid') {
      status = 'approved'
      note('commissions of pending or failed payouts are approved: they are paid when a payout of them is (POST /payouts/:id/confirm)')
    }
    enrolAt(partnerId, program, accruedAt)
    const holdback = holdbackOf(partnerId, program)
    return {
      id: f.text('id'),
      tenant_id: tenantId,
      event_id: event.id,
      partner_id: partnerId,
      program_id: program.id,
      click_id: click?.id ?? null,
      customer_id: event.customer_id,
      trigger: triggerOf(event.type) === 'signup' ? 'signup' : 'sale',
      kind: 'commission',
      amount_minor: f.wrap('amount', () => importedAmount(row.amount, currency, 'amount')),
      currency,
      status,
      flag: null,
      mature_at: new Date(Date.parse(accruedAt) + holdback * 86_400_000).toISOString(),
      reverses_id: null,
      payout_id: payout && payout.status !== 'failed' ? payout.id : null,
      created_at: accruedAt,
      updated_at: f.time('paidAt', accruedAt),
    }
  })
  const commissionById = new Map(commissions.map((c) => [c.id, c]))

  // Adjustments: what was taken back from a commission, as one clawback of their sum.
  const takenBack = new Map<string, { id: string; minor: number; at: string }>()
  for (const [i, row] of list('CommissionAdjustment').entries()) {
    const f = fields('CommissionAdjustment', i, row)
    const original = commissionById.get(f.text('commissionId'))
    if (!original) throw invalid(`${f.where('commissionId')}: no commission ${String(row.commissionId)} in the bundle`)
    const minor = f.wrap('amount', () => importedAmount(row.amount, original.currency, 'amount', { signed: true }))
    if (minor >= 0) {
      note('positive CommissionAdjustments are not imported: partnerd adds to a commission only through an event')
      continue
    }
    const known = takenBack.get(original.id)
    takenBack.set(original.id, { id: known?.id ?? f.text('id'), minor: (known?.minor ?? 0) + minor, at: known?.at ?? f.time('createdAt') })
  }
  if ([...takenBack.values()].length < list('CommissionAdjustment').filter((a) => Number(a.amount) < 0).length)
    note('several negative adjustments of one commission become one clawback of their sum')
  const clawbacks = [...takenBack.entries()].map(([commissionId, back]): DB['commissions'] => {
    const original = commissionById.get(commissionId)!
    const unpaid = original.payout_id === null && original.status !== 'paid'
    return {
      ...original,
      id: back.id,
      kind: 'clawback',
      amount_minor: Math.max(back.minor, -original.amount_minor),
      // Paid money is recovered from the next payout; unpaid money follows its commission.
      status: unpaid ? original.status : 'approved',
      mature_at: unpaid ? original.mature_at : back.at,
      reverses_id: original.id,
      payout_id: null,
      created_at: back.at,
      updated_at: back.at,
    }
  })

  if (list('PortalCustomDomain').length > 0)
    note('PortalCustomDomain rows are not imported: partnerd’s portal lives on the server’s own address')

  return {
    programs,
    partners,
    grants: [...enrolments.values()].filter((e) => e.granted).map(({ granted: _, ...e }) => e),
    implied: [...enrolments.values()].filter((e) => !e.granted).map(({ granted: _, ...e }) => e),
    links,
    coupons,
    clicks,
    identities: [...identities.values()],
    events,
    referrals: [...referrals.values()],
    payouts,
    commissions,
    clawbacks,
  }
}

/** A PartnerCommission snapshot's rules: its compound rules, else its single legacy rule. */
function snapshotRules(snapshot: Row): unknown {
  const compound = typeof snapshot.commissionRules === 'string' ? safeParse(snapshot.commissionRules) : snapshot.commissionRules
  if (Array.isArray(compound) && compound.length > 0) return compound
  return { type: snapshot.commissionType, value: snapshot.commissionValue, recurring: snapshot.recurring }
}

/**
 * OpenPartner's commission rule (one `{type, value, recurring}`, or compound sub-rules) as partnerd's
 * stored rules, translated as POST /programs translates it (programs/openpartner.ts): a sub-rule
 * partnerd cannot pay as OpenPartner did is left out with a note rather than failing the import.
 */
function rulesIn(rule: unknown, currency: string, owner: string, note: (text: string) => void): StoredRule[] {
  const parsed = typeof rule === 'string' ? safeParse(rule) : rule
  const subRules = (Array.isArray(parsed) ? parsed : parsed && typeof parsed === 'object' ? [parsed] : []) as Row[]
  const kept: StoredRule[] = []
  for (const [i, written] of subRules.entries()) {
    // Left-out fields are written as null in OpenPartner's rows; the schema reads them as absent.
    const sub = Object.fromEntries(Object.entries(written).filter(([, v]) => v !== null && v !== undefined))
    // Its Decimal columns come as strings with four places ("25.0000"): the number is what was meant.
    if (typeof sub.value === 'string' && /^\d+(\.\d+)?$/.test(sub.value)) sub.value = Number(sub.value)
    const at = `${owner} commissionRule${Array.isArray(parsed) ? `.${i}` : ''}`
    if (!Value.Check(SubRule, sub)) {
      note(`${at}: not a rule OpenPartner writes, left out`)
      continue
    }
    try {
      const translated = ruleOf(sub, at)
      if (kept.some((r) => r.on === translated.on)) throw new AppError(400, 'invalid_rules', `${at}: a second rule for one event`)
      kept.push(...parseRules([translated], currency))
    } catch (error) {
      // A rule partnerd has no form for is noted; a value no program could hold (a percentage over
      // 100, an amount finer than the currency) is a malformed bundle, refused whole.
      if (!(error instanceof AppError) || error.code !== 'invalid_rules') throw error
      note(`${error.detail}; left out`)
    }
  }
  return kept
}
