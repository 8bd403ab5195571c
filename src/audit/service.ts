/**
 * The audit log: security events of a tenant (sign-in and its failures, keys minted and revoked,
 * sessions revoked). Rows carry who, what, from where and particulars, never a secret.
 */
import { readJson, writeJson } from '../db/codec.ts'
import { fetchPage, type Page, type PageRequest, sliced } from '../db/pagination.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { newId } from '../ids.ts'

export interface AuditInput {
  type: string
  /** Who acted: `usr_…`, `key_…`, `admin:1`; null when nobody was authenticated. */
  actor?: string | null
  /** What the event is about: a user, key or session id, or an email for failed sign-ins. */
  subject?: string | null
  ip?: string | null
  detail?: Record<string, unknown>
}

/** Who did something, for the audit log: a principal id (or `cli`, `bootstrap`) and where from. */
export interface Actor {
  id: string | null
  ip?: string
}

export interface AuditEvent extends Required<Omit<AuditInput, 'detail'>> {
  id: string
  detail: Record<string, unknown>
  createdAt: string
}

export async function recordAudit(scope: TenantScope, input: AuditInput): Promise<void> {
  await scope.db
    .insertInto('audit_events')
    .values({
      id: newId('auditEvent'),
      tenant_id: scope.tenantId,
      type: input.type,
      actor: input.actor ?? null,
      subject: input.subject ?? null,
      ip: input.ip ?? null,
      detail: writeJson(input.detail ?? {}),
      created_at: new Date().toISOString(),
    })
    .execute()
}

/** Newest first; `type` matches a type or its family (`sign_in` takes `sign_in.failed` too). */
export async function listAudit(
  scope: TenantScope,
  page: PageRequest & { type?: string; actor?: string; subject?: string },
): Promise<Page<AuditEvent>> {
  const result = await fetchPage(
    page,
    (slice) => {
      let q = scope.db.selectFrom('audit_events').selectAll().where('tenant_id', '=', scope.tenantId)
      if (page.type) q = q.where((eb) => eb.or([eb('type', '=', page.type!), eb('type', 'like', `${page.type!.replace(/[%_\\]/g, '')}.%`)]))
      if (page.actor) q = q.where('actor', '=', page.actor)
      if (page.subject) q = q.where('subject', '=', page.subject)
      return sliced(q, slice).execute()
    },
    { order: 'newest' },
  )
  return {
    items: result.items.map((r) => ({
      id: r.id,
      type: r.type,
      actor: r.actor,
      subject: r.subject,
      ip: r.ip,
      detail: readJson<Record<string, unknown>>(r.detail),
      createdAt: r.created_at,
    })),
    nextCursor: result.nextCursor,
  }
}
