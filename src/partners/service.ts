/**
 * Partners: who refers customers and earns commissions. Emails are lower-cased and unique per tenant.
 * A revoked partner keeps its history; its links will still redirect but its clicks are flagged and
 * earn nothing (the click router reads the status). Every change raises a domain event for webhooks.
 */
import { sql } from 'kysely'
import { type Actor, recordAudit } from '../audit/service.ts'
import { readJson } from '../db/codec.ts'
import { isUniqueViolation } from '../db/errors.ts'
import { fetchPage, type Page, type PageRequest, sliced } from '../db/pagination.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { metadataText } from '../metadata.ts'
import { normalizeEmail } from '../users/service.ts'
import { endPartnerAccess } from './portal.ts'

export type PartnerStatus = DB['partners']['status']

export interface Partner {
  id: string
  email: string
  name: string | null
  status: PartnerStatus
  metadata: Record<string, unknown>
  createdAt: string
  updatedAt: string
  revokedAt: string | null
  /** When it accepted its invitation (first sign-in to the portal), or was created needing none. */
  activatedAt: string | null
}

export function toPartner(row: DB['partners']): Partner {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    status: row.status,
    metadata: readJson<Record<string, unknown>>(row.metadata),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    revokedAt: row.revoked_at,
    activatedAt: row.activated_at,
  }
}

function emailTaken(email: string): AppError {
  return new AppError(409, 'email_taken', `a partner with email ${email} exists`)
}

/** `activated`: the partner needs no invitation (OpenPartner's `sendInvite: false`); it is active from now. */
export async function createPartner(
  scope: TenantScope,
  input: { email: string; name?: string; metadata?: Record<string, unknown>; activated?: boolean },
): Promise<Partner> {
  const email = normalizeEmail(input.email)
  const now = new Date().toISOString()
  const row: DB['partners'] = {
    id: newId('partner'),
    tenant_id: scope.tenantId,
    email,
    name: input.name?.trim() || null,
    status: 'active',
    metadata: metadataText(input.metadata ?? {}),
    created_at: now,
    updated_at: now,
    revoked_at: null,
    activated_at: input.activated ? now : null,
  }
  try {
    await scope.db.insertInto('partners').values(row).execute()
  } catch (err) {
    if (isUniqueViolation(err)) throw emailTaken(email)
    throw err
  }
  const partner = toPartner(row)
  scope.emit('partner.created', partner)
  return partner
}

export async function getPartner(scope: TenantScope, id: string): Promise<Partner> {
  const row = await scope.db
    .selectFrom('partners')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .executeTakeFirst()
  if (!row) throw new AppError(404, 'not_found', `no partner ${id}`)
  return toPartner(row)
}

export async function listPartners(
  scope: TenantScope,
  filter: PageRequest & { email?: string; status?: PartnerStatus; programId?: string; search?: string },
): Promise<Page<Partner>> {
  const page = await fetchPage(filter, (slice) => {
    let q = scope.db.selectFrom('partners').selectAll().where('tenant_id', '=', scope.tenantId)
    if (filter.email) q = q.where('email', '=', filter.email.trim().toLowerCase())
    if (filter.status) q = q.where('status', '=', filter.status)
    if (filter.search) {
      // In the email or the name, whatever the case (lower() on both sides: SQLite and PostgreSQL alike).
      const needle = `%${filter.search
        .trim()
        .toLowerCase()
        .replace(/[\\%_]/g, (c) => `\\${c}`)}%`
      q = q.where((eb) =>
        eb.or([
          eb(sql`lower(email)`, 'like', sql`${needle} escape '\\'`),
          eb(sql`lower(coalesce(name, ''))`, 'like', sql`${needle} escape '\\'`),
        ]),
      )
    }
    const programId = filter.programId
    if (programId) {
      q = q.where((eb) =>
        eb.exists(
          eb
            .selectFrom('enrolments')
            .select('enrolments.id')
            .where('enrolments.tenant_id', '=', scope.tenantId)
            .where('enrolments.program_id', '=', programId)
            .whereRef('enrolments.partner_id', '=', 'partners.id'),
        ),
      )
    }
    return sliced(q, slice).execute()
  })
  return { items: page.items.map(toPartner), nextCursor: page.nextCursor }
}

export async function updatePartner(
  scope: TenantScope,
  id: string,
  changes: { email?: string; name?: string | null; metadata?: Record<string, unknown> },
): Promise<Partner> {
  const current = await getPartner(scope, id)
  const set: Partial<DB['partners']> = { updated_at: new Date().toISOString() }
  if (changes.email !== undefined) set.email = normalizeEmail(changes.email)
  if (changes.name !== undefined) set.name = changes.name?.trim() || null
  if (changes.metadata !== undefined) set.metadata = metadataText(changes.metadata)
  try {
    await scope.db.updateTable('partners').set(set).where('tenant_id', '=', scope.tenantId).where('id', '=', id).execute()
  } catch (err) {
    if (isUniqueViolation(err)) throw emailTaken(set.email!)
    throw err
  }
  const updated = await getPartner(scope, id)
  scope.emit('partner.updated', { before: current, after: updated })
  return updated
}

/**
 * Revokes or reinstates: 409 `already_revoked` or `not_revoked` (OpenPartner's codes) when the
 * partner is so already, so a client learns the change it asked for was not its own. The change is
 * audited with its reason and raises its event once.
 */
export async function setPartnerStatus(
  scope: TenantScope,
  id: string,
  status: PartnerStatus,
  by?: Actor & { reason?: string },
): Promise<Partner> {
  const current = await getPartner(scope, id)
  if (current.status === status) {
    throw status === 'revoked'
      ? new AppError(409, 'already_revoked', `partner ${id} is revoked already`)
      : new AppError(409, 'not_revoked', `partner ${id} is not revoked`)
  }
  const now = new Date().toISOString()
  await scope.db
    .updateTable('partners')
    .set({ status, updated_at: now, revoked_at: status === 'revoked' ? now : null })
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .execute()
  if (status === 'revoked') await endPartnerAccess(scope, id)
  if (by) {
    await recordAudit(scope, {
      type: status === 'revoked' ? 'partner.revoked' : 'partner.reinstated',
      actor: by.id,
      subject: id,
      ip: by.ip,
      detail: by.reason ? { reason: by.reason } : {},
    })
  }
  const updated = await getPartner(scope, id)
  scope.emit(status === 'revoked' ? 'partner.revoked' : 'partner.activated', updated)
  return updated
}
