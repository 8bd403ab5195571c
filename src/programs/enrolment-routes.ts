import { t } from 'elysia'
import { confineProgram } from '../auth/binding.ts'
import { PageQuery } from '../db/pagination.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { reachPartner } from '../partners/reach.ts'
import { enrol, listEnrolments, refreshTerms } from './enrolments.ts'
import { RuleSchema } from './routes.ts'

const EnrolmentSchema = t.Object({
  id: t.String(),
  partnerId: t.String(),
  programId: t.String(),
  terms: t.Object({ rules: t.Array(RuleSchema), holdbackDays: t.Integer() }, { description: 'The terms the partner earns by.' }),
  createdAt: t.String({ format: 'date-time' }),
  updatedAt: t.String({ format: 'date-time' }),
})
const tags = ['Programs']

/** Partners in programs, each with the terms of the day it joined. */
export function enrolmentRoutes(api: TenantApi) {
  return api
    .post(
      '/programs/:id/enrolments',
      async ({ params, body, withTenant, set, principal }) => {
        const programId = confineProgram(principal, params.id)!
        const { enrolment, created } = await withTenant(async (scope) => {
          await reachPartner(scope, principal, body.partnerId, 'read')
          return enrol(scope, body.partnerId, programId)
        })
        set.status = created ? 201 : 200
        return enrolment
      },
      {
        auth: { scopes: ['partners:write'] },
        body: t.Object({ partnerId: t.String({ maxLength: 64 }) }, { additionalProperties: false }),
        response: { 200: EnrolmentSchema, 201: EnrolmentSchema },
        detail: { tags, summary: "Enrol a partner on the program's current terms (200 when already enrolled)" },
      },
    )
    .get(
      '/programs/:id/enrolments',
      async ({ params, query, withTenant, principal }) => {
        const page = await withTenant((scope) => listEnrolments(scope, { ...query, programId: confineProgram(principal, params.id) }))
        return { enrolments: page.items, nextCursor: page.nextCursor }
      },
      {
        auth: { scopes: ['partners:read'] },
        query: PageQuery,
        response: t.Object({ enrolments: t.Array(EnrolmentSchema), nextCursor: t.Nullable(t.String()) }),
        detail: { tags, summary: "The program's partners and their terms" },
      },
    )
    .post(
      '/programs/:id/enrolments/:partnerId/refresh-terms',
      ({ params, withTenant, principal }) =>
        withTenant(async (scope) => {
          await reachPartner(scope, principal, params.partnerId, 'read')
          return refreshTerms(scope, params.partnerId, confineProgram(principal, params.id)!)
        }),
      {
        auth: { scopes: ['partners:write'] },
        response: EnrolmentSchema,
        detail: { tags, summary: "Move an enrolled partner to the program's current terms" },
      },
    )
}
