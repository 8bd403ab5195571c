import { t } from 'elysia'
import { PageQuery } from '../db/pagination.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { listAudit } from './service.ts'

const AuditEventSchema = t.Object({
  id: t.String(),
  type: t.String({ description: 'sign_in, sign_in.failed, session.signed_out, session.revoked, api_key.created, api_key.revoked, …' }),
  actor: t.Nullable(t.String()),
  subject: t.Nullable(t.String()),
  ip: t.Nullable(t.String()),
  detail: t.Record(t.String(), t.Unknown()),
  createdAt: t.String({ format: 'date-time' }),
})

/** The tenant's security events, newest first, for its admins. */
export function auditRoutes(api: TenantApi) {
  return api.get(
    '/audit-events',
    async ({ query, withTenant }) => {
      const page = await withTenant((scope) => listAudit(scope, query))
      return { auditEvents: page.items, nextCursor: page.nextCursor }
    },
    {
      auth: { scopes: ['audit:read'] },
      query: t.Composite([
        PageQuery,
        t.Object({
          type: t.Optional(t.String({ maxLength: 100, description: 'A type, or its family: sign_in takes sign_in.failed too.' })),
          actor: t.Optional(t.String({ maxLength: 100 })),
          subject: t.Optional(t.String({ maxLength: 254 })),
        }),
      ]),
      response: t.Object({ auditEvents: t.Array(AuditEventSchema), nextCursor: t.Nullable(t.String()) }),
      detail: { tags: ['Audit'], summary: 'Security events of this organization, newest first, filtered by type, actor or subject' },
    },
  )
}
