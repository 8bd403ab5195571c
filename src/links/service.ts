/**
 * Links: a key that the click router turns into (partner, program, destination). Creating a link
 * enrols its partner in the program if needed. Keys are chosen by the caller (letters, digits, `-`
 * and `_`) or generated; they are unique in the tenant.
 */
import { randomInt } from 'node:crypto'
import { readJson } from '../db/codec.ts'
import { isUniqueViolation } from '../db/errors.ts'
import { fetchPage, type Page, type PageRequest, sliced } from '../db/pagination.ts'
import type { DB } from '../db/schema.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newId } from '../ids.ts'
import { enrol } from '../programs/enrolments.ts'
import { allowedDeepLink } from './destination.ts'

export const LINK_KEY_PATTERN = '^[A-Za-z0-9_-]{3,64}$'
const ALPHABET = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789'
const GENERATED_LENGTH = 8

export interface Link {
  id: string
  key: string
  partnerId: string
  programId: string
  destinationUrl: string | null
  createdAt: string
  archivedAt: string | null
}

function toLink(row: DB['links']): Link {
  return {
    id: row.id,
    key: row.key,
    partnerId: row.partner_id,
    programId: row.program_id,
    destinationUrl: row.destination_url,
    createdAt: row.created_at,
    archivedAt: row.archived_at,
  }
}

function generatedKey(): string {
  let key = ''
  for (let i = 0; i < GENERATED_LENGTH; i++) key += ALPHABET[randomInt(ALPHABET.length)]
  return key
}

export async function createLink(
  scope: TenantScope,
  input: { partnerId: string; programId: string; key?: string; destinationUrl?: string },
): Promise<Link> {
  await enrol(scope, input.partnerId, input.programId)
  const program = await scope.db
    .selectFrom('programs')
    .select(['destination_url', 'deep_link_hosts'])
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', input.programId)
    .executeTakeFirstOrThrow()
  let destination: string | null = null
  if (input.destinationUrl !== undefined) {
    destination =
      allowedDeepLink(input.destinationUrl, {
        destinationUrl: program.destination_url,
        deepLinkHosts: readJson<string[]>(program.deep_link_hosts),
      }) ?? null
    if (!destination) {
      throw new AppError(
        400,
        'destination_not_allowed',
        "destinationUrl must be an http(s) URL on the program's destination or deep-link hosts",
      )
    }
  }
  // A generated key collides with odds of about n / 56^8; try a few before giving up.
  for (let attempt = 0; ; attempt++) {
    const row: DB['links'] = {
      id: newId('link'),
      tenant_id: scope.tenantId,
      key: input.key ?? generatedKey(),
      partner_id: input.partnerId,
      program_id: input.programId,
      destination_url: destination,
      created_at: new Date().toISOString(),
      archived_at: null,
    }
    const exists = await scope.db
      .selectFrom('links')
      .select('id')
      .where('tenant_id', '=', scope.tenantId)
      .where('key', '=', row.key)
      .executeTakeFirst()
    if (exists) {
      if (input.key !== undefined) throw new AppError(409, 'key_taken', `a link with key ${row.key} exists`)
      if (attempt < 5) continue
    }
    try {
      await scope.db.insertInto('links').values(row).execute()
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError(409, 'key_taken', `a link with key ${row.key} exists`)
      throw err
    }
    const link = toLink(row)
    scope.emit('link.created', link)
    return link
  }
}

export async function getLink(scope: TenantScope, id: string): Promise<Link> {
  const row = await scope.db.selectFrom('links').selectAll().where('tenant_id', '=', scope.tenantId).where('id', '=', id).executeTakeFirst()
  if (!row) throw new AppError(404, 'not_found', `no link ${id}`)
  return toLink(row)
}

export async function listLinks(scope: TenantScope, filter: PageRequest & { partnerId?: string; programId?: string }): Promise<Page<Link>> {
  const page = await fetchPage(filter, (slice) => {
    let q = scope.db.selectFrom('links').selectAll().where('tenant_id', '=', scope.tenantId)
    if (filter.partnerId) q = q.where('partner_id', '=', filter.partnerId)
    if (filter.programId) q = q.where('program_id', '=', filter.programId)
    return sliced(q, slice).execute()
  })
  return { items: page.items.map(toLink), nextCursor: page.nextCursor }
}

/** An archived link answers 404 at the router; its clicks and commissions stay. */
export async function archiveLink(scope: TenantScope, id: string): Promise<Link> {
  const link = await getLink(scope, id)
  if (link.archivedAt) return link
  const archivedAt = new Date().toISOString()
  await scope.db
    .updateTable('links')
    .set({ archived_at: archivedAt })
    .where('tenant_id', '=', scope.tenantId)
    .where('id', '=', id)
    .execute()
  const archived = { ...link, archivedAt }
  scope.emit('link.archived', archived)
  return archived
}
