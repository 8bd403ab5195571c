import { t } from 'elysia'
import type { TenantApi } from '../http/tenant-api.ts'

const TenantSchema = t.Object({
  id: t.String(),
  slug: t.String(),
  name: t.String(),
  createdAt: t.String({ format: 'date-time' }),
})

export function tenantRoutes(api: TenantApi) {
  return api.get(
    '/tenant',
    ({ tenant, principal }) => ({ ...tenant, principal: { kind: principal.kind, id: principal.id, scopes: [...principal.scopes] } }),
    {
      auth: true,
      response: t.Composite([
        TenantSchema,
        t.Object({ principal: t.Object({ kind: t.String(), id: t.String(), scopes: t.Array(t.String()) }) }),
      ]),
      detail: { tags: ['Tenant'], summary: 'The tenant this base URL addresses, and who is calling' },
    },
  )
}
