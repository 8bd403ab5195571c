import { t } from 'elysia'
import type { TenantApi } from '../http/tenant-api.ts'
import { exportTenant, importTenant } from './transfer.ts'

const tags = ['Data']

/** Whole-tenant export and import, for admins. Large tenants: `partnerd export` / `partnerd import`. */
export function dataRoutes(api: TenantApi) {
  return api
    .get(
      '/export',
      async ({ withTenant, set }) => {
        set.headers['content-disposition'] = 'attachment; filename="partnerd-export.json"'
        return withTenant((scope) => exportTenant(scope))
      },
      { auth: { scopes: ['*'] }, detail: { tags, summary: "The tenant's programs, partners, links, clicks, events, commissions and payouts as JSON" } },
    )
    .post(
      '/import',
      async ({ body, withTenant, set }) => {
        set.status = 201
        return { imported: await withTenant((scope) => importTenant(scope, body)) }
      },
      {
        auth: { scopes: ['*'] },
        body: t.Record(t.String(), t.Unknown(), { description: 'A document from GET /export.' }),
        response: { 201: t.Object({ imported: t.Record(t.String(), t.Integer()) }) },
        detail: { tags, summary: 'Load an export into this tenant (only while it has no programs or partners; all or nothing)' },
      },
    )
}
