import { t } from 'elysia'
import type { TenantApi } from '../http/tenant-api.ts'
import { updateTenant } from './service.ts'

const TenantSchema = t.Object({
  id: t.String(),
  slug: t.String(),
  name: t.String(),
  defaultCurrency: t.String({ description: 'ISO 4217: what a program created without a currency is in.' }),
  createdAt: t.String({ format: 'date-time' }),
})
const tags = ['Tenant']

export function tenantRoutes(api: TenantApi) {
  return api
    .get(
      '/tenant',
      ({ tenant, principal }) => ({ ...tenant, principal: { kind: principal.kind, id: principal.id, scopes: [...principal.scopes] } }),
      {
        auth: true,
        response: t.Composite([
          TenantSchema,
          t.Object({ principal: t.Object({ kind: t.String(), id: t.String(), scopes: t.Array(t.String()) }) }),
        ]),
        detail: { tags, summary: 'The tenant this base URL addresses, and who is calling' },
      },
    )
    .patch('/tenant', ({ body, withTenant }) => withTenant((scope) => updateTenant(scope, body)), {
      auth: { scopes: ['*'] },
      body: t.Object(
        {
          name: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
          defaultCurrency: t.Optional(t.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217, e.g. EUR.' })),
        },
        { additionalProperties: false },
      ),
      response: TenantSchema,
      detail: { tags, summary: 'Change the organization’s name or default currency' },
    })
}
