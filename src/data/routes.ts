import { t } from 'elysia'
import type { TenantApi } from '../http/tenant-api.ts'
import { exportOpenPartnerBundle, importOpenPartnerBundle, isOpenPartnerBundle } from './openpartner-bundle.ts'
import { exportTenant, importTenant } from './transfer.ts'

const tags = ['Data']
const Counts = t.Record(t.String(), t.Integer())

/**
 * Whole-tenant export and import, for admins. Large tenants: `partnerd export` / `partnerd import`.
 * `/export` is partnerd's own document, lossless; `/export.json` is OpenPartner's bundle. `/import`
 * takes either, and answers in the dialect of the document it was given.
 */
export function dataRoutes(api: TenantApi) {
  return api
    .get(
      '/export',
      async ({ withTenant, set }) => {
        set.headers['content-disposition'] = 'attachment; filename="partnerd-export.json"'
        return withTenant((scope) => exportTenant(scope))
      },
      {
        auth: { scopes: ['*'] },
        detail: { tags, summary: "The tenant's programs, partners, links, clicks, events, commissions and payouts as JSON" },
      },
    )
    .get(
      '/export.json',
      async ({ withTenant, set }) => {
        set.headers['content-disposition'] = 'attachment; filename="openpartner-export.json"'
        return withTenant((scope) => exportOpenPartnerBundle(scope))
      },
      {
        auth: { scopes: ['*'] },
        response: t.Object({
          exportedAt: t.Optional(t.String()),
          schemaVersion: t.Integer(),
          tables: t.Record(t.String(), t.Array(t.Unknown())),
        }),
        detail: { tags, summary: "The tenant in OpenPartner's export bundle (schemaVersion 2, its tables and columns)" },
      },
    )
    .post(
      '/import',
      async ({ body, withTenant, set }) => {
        if (isOpenPartnerBundle(body)) {
          const report = await withTenant((scope) => importOpenPartnerBundle(scope, body))
          // OpenPartner's answer (200, {ok, report}), with partnerd's counts beside it.
          return { ok: true as const, report, imported: report.inserted }
        }
        set.status = 201
        return { imported: await withTenant((scope) => importTenant(scope, body)) }
      },
      {
        auth: { scopes: ['*'] },
        body: t.Record(t.String(), t.Unknown(), {
          description:
            'A document from GET /export (into a tenant without programs or partners), or an OpenPartner bundle {schemaVersion, tables} (rows it has already are skipped). All or nothing.',
        }),
        response: {
          200: t.Object({
            ok: t.Literal(true),
            report: t.Object({ inserted: Counts, skipped: Counts, notes: t.Array(t.String()) }),
            imported: Counts,
          }),
          201: t.Object({ imported: Counts }),
        },
        detail: { tags, summary: 'Load an export, partnerd’s or OpenPartner’s, into this tenant (all or nothing)' },
      },
    )
}
