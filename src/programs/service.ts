/**
 * Programs (campaigns): currency, commission rules, attribution window and model, holdback, the
 * destination links lead to and the hosts deep links may name, and a status. A program created
 * without a currency is in the tenant's default currency. Draft programs can still change currency;
 * an archived program is final. Paused programs keep redirecting but earn nothing.
 */
import { readJson, writeJson } from '../db/codec.ts'
import { fetchPage, type Page, type PageRequest, sliced } from '../db/pagination.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { currencyDigits } from '../money/money.ts'
import { defaultCurrency } from '../tenants/service.ts'
import { findEnrolmentRow } from './enrolments.ts'
import { formatRules, parseRules, type RuleInput, type StoredRule } from './rules.ts'

type Row = DB['programs']
export type ProgramStatus = Row['status']
export type AttributionModel = Row['attribution_model']

export interface Program {
  id: string
  name: string
  currency: string
  status: ProgramStatus
  destinationUrl: string
  deepLinkHosts: string[]
  attribution: { windowDays: number; model: AttributionModel }
  holdbackDays: number
  rules: RuleInput[]
  createdAt: string
  updatedAt: string
}

export interface ProgramInput {
  name: string
  /** Left out: the tenant's default currency. */
  currency?: string
  status?: ProgramStatus
  destinationUrl: string
  deepLinkHosts?: string[]
  attribution?: { windowDays?: number; model?: AttributionModel }
  holdbackDays?: number
  rules?: RuleInput[]
}

export const DEFAULTS = { windowDays: 60, model: 'last_click' as AttributionModel, holdbackDays: 30 }

function toProgram(row: Row): Program {
  return {
    id: row.id,
    name: row.name,
    currency: row.currency,
    status: row.status,
    destinationUrl: row.destination_url,
    deepLinkHosts: readJson<string[]>(row.deep_link_hosts),
    attribution: { windowDays: row.attribution_window_days, model: row.attribution_model },
    holdbackDays: row.holdback_days,
    rules: formatRules(readJson<StoredRule[]>(row.rules), row.currency),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

function destination(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new AppError(400, 'invalid_destination', 'destinationUrl must be an absolute http(s) URL')
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')
    throw new AppError(400, 'invalid_destination', 'destinationUrl must be http or https')
  return parsed.toString()
}

/** Host names only (no scheme, port or path), lower-cased and in their ASCII (punycode) form. */
function hosts(list: string[]): string[] {
  return [
    ...new Set(
      list.map((host) => {
        let parsed: URL | undefined
        try {
          parsed = new URL(`https://${host}`)
        } catch {}
        if (
          !parsed ||
          parsed.host !== parsed.hostname ||
          `${parsed.hostname}` !== parsed.hostname.toLowerCase() ||
          /[/:@?#\\]/.test(host) ||
          !host.includes('.')
        ) {
          throw new AppError(400, 'invalid_deep_link_host', `deepLinkHosts: ${JSON.stringify(host)} is not a host name`)
        }
        return parsed.hostname
      }),
    ),
  ]
}

async function row(scope: TenantScope, id: string): Promise<Row> {
  const found = await scope.db
    .selectFrom('programs')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (!found) throw new AppError(404, 'not_found', `no program ${id}`)
  return found
}

export async function createProgram(scope: TenantScope, input: ProgramInput): Promise<Program> {
  const currency = input.currency ?? (await defaultCurrency(scope))
  currencyDigits(currency)
  const now = new Date().toISOString()
  const record: Row = {
    id: newId('program'),
    tenant_id: scope.tenantId,
    name: input.name.trim(),
    currency,
    status: input.status ?? 'draft',
    destination_url: destination(input.destinationUrl),
    deep_link_hosts: writeJson(hosts(input.deepLinkHosts ?? [])),
    attribution_window_days: input.attribution?.windowDays ?? DEFAULTS.windowDays,
    attribution_model: input.attribution?.model ?? DEFAULTS.model,
    holdback_days: input.holdbackDays ?? DEFAULTS.holdbackDays,
    rules: writeJson(parseRules(input.rules ?? [], currency)),
    created_at: now,
    updated_at: now,
  }
  if (record.status === 'archived') throw new AppError(400, 'invalid_status', 'a program cannot start archived')
  await scope.db.insertInto('programs').values(record).execute()
  const program = toProgram(record)
  scope.emit('program.created', program)
  return program
}

/** `asPartner`: a partner sees only the programs it is enrolled in. */
export async function getProgram(scope: TenantScope, id: string, asPartner?: string): Promise<Program> {
  if (asPartner && !(await findEnrolmentRow(scope, asPartner, id))) throw new AppError(404, 'not_found', `no program ${id}`)
  return toProgram(await row(scope, id))
}

export async function listPrograms(
  scope: TenantScope,
  filter: PageRequest & { status?: ProgramStatus; id?: string; partnerId?: string },
): Promise<Page<Program>> {
  const page = await fetchPage(filter, (slice) => {
    let q = scope.db.selectFrom('programs').selectAll().where('tenant_id', '=', scope.tenantId)
    if (filter.status) q = q.where('status', '=', filter.status)
    if (filter.id) q = q.where('id', '=', filter.id)
    if (filter.partnerId) {
      const partnerId = filter.partnerId
      q = q.where((eb) =>
        eb.exists(
          eb
            .selectFrom('enrolments')
            .select('enrolments.id')
            .where('enrolments.tenant_id', '=', scope.tenantId)
            .where('enrolments.partner_id', '=', partnerId)
            .whereRef('enrolments.program_id', '=', 'programs.id'),
        ),
      )
    }
    return sliced(q, slice).execute()
  })
  return { items: page.items.map(toProgram), nextCursor: page.nextCursor }
}

export async function updateProgram(scope: TenantScope, id: string, changes: Partial<ProgramInput>): Promise<Program> {
  const current = await row(scope, id)
  if (current.status === 'archived') throw new AppError(409, 'program_archived', 'an archived program cannot change')
  const currency = changes.currency ?? current.currency
  if (changes.currency !== undefined && changes.currency !== current.currency) {
    if (current.status !== 'draft') throw new AppError(409, 'currency_locked', 'the currency can change only while the program is a draft')
    currencyDigits(changes.currency)
    if (!changes.rules && readJson<StoredRule[]>(current.rules).some((r) => r.kind === 'fixed')) {
      throw new AppError(400, 'invalid_rules', 'fixed amounts are in the old currency: give the rules again with the new currency')
    }
  }
  const set: Partial<Row> = { updated_at: new Date().toISOString(), currency }
  if (changes.name !== undefined) set.name = changes.name.trim()
  if (changes.status !== undefined) set.status = changes.status
  if (changes.destinationUrl !== undefined) set.destination_url = destination(changes.destinationUrl)
  if (changes.deepLinkHosts !== undefined) set.deep_link_hosts = writeJson(hosts(changes.deepLinkHosts))
  if (changes.attribution?.windowDays !== undefined) set.attribution_window_days = changes.attribution.windowDays
  if (changes.attribution?.model !== undefined) set.attribution_model = changes.attribution.model
  if (changes.holdbackDays !== undefined) set.holdback_days = changes.holdbackDays
  if (changes.rules !== undefined) set.rules = writeJson(parseRules(changes.rules, currency))
  await scope.db.updateTable('programs').set(set).where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute()
  const updated = await getProgram(scope, id)
  scope.emit('program.updated', updated)
  return updated
}
