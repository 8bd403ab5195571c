import { t } from 'elysia'
import { confineProgram } from '../auth/binding.ts'
import { PageQuery } from '../db/pagination.ts'
import { OneOf } from '../http/one-of.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import {
  OpenPartnerProgramChangeFields,
  OpenPartnerProgramFields,
  OpenPartnerProgramView,
  openPartnerView,
  programChanges,
  programInput,
} from './openpartner.ts'
import { RULE_EVENTS } from './rules.ts'
import { createProgram, getProgram, listPrograms, type Program, updateProgram } from './service.ts'

const STATUSES = ['draft', 'active', 'paused', 'archived'] as const

import { MODELS } from '../attribution/models.ts'

export const RuleSchema = t.Object(
  {
    on: OneOf([...RULE_EVENTS]),
    percent: t.Optional(t.String({ maxLength: 6, description: 'Of the sale, e.g. "20" or "12.5".' })),
    amount: t.Optional(t.String({ maxLength: 24, description: 'In the program’s currency, e.g. "5.00"; at most 10^15 minor units.' })),
    currency: t.Optional(t.String({ pattern: '^[A-Z]{3}$', description: 'The currency of amount, if named: the program’s.' })),
    recurring: t.Optional(
      t.Object(
        { months: t.Optional(t.Integer({ minimum: 1, maximum: 120 })), lifetime: t.Optional(t.Literal(true)) },
        { additionalProperties: false },
      ),
    ),
    stepDown: t.Optional(
      t.Object(
        { afterMonths: t.Integer({ minimum: 1, maximum: 119 }), percent: t.String({ maxLength: 6 }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
)
const Attribution = t.Object(
  {
    windowDays: t.Optional(
      t.Integer({ minimum: 1, maximum: 365, description: 'How long after a click a conversion counts (default 60).' }),
    ),
    model: t.Optional(OneOf([...MODELS], { description: 'last_click (default), first_click, linear, or position (40/20/40).' })),
  },
  { additionalProperties: false },
)
const fields = {
  name: t.String({ minLength: 1, maxLength: 200 }),
  currency: t.String({ pattern: '^[A-Z]{3}$', description: 'ISO 4217; when left out of a new program, the tenant’s default currency.' }),
  status: OneOf([...STATUSES]),
  destinationUrl: t.String({ maxLength: 2048 }),
  deepLinkHosts: t.Array(t.String({ maxLength: 253 }), { maxItems: 50, description: 'Hosts deep links may send visitors to.' }),
  attribution: Attribution,
  holdbackDays: t.Integer({ minimum: 0, maximum: 365, description: 'Days a commission waits before it can be approved (default 30).' }),
  rules: t.Array(RuleSchema, { maxItems: 2 }),
}
/** A new program (POST /programs), in partnerd's shape or OpenPartner's (openpartner.ts); the console's form is checked against it too. */
export const ProgramBody = t.Object(
  {
    name: fields.name,
    currency: t.Optional(fields.currency),
    destinationUrl: fields.destinationUrl,
    status: t.Optional(fields.status),
    deepLinkHosts: t.Optional(fields.deepLinkHosts),
    attribution: t.Optional(fields.attribution),
    holdbackDays: t.Optional(fields.holdbackDays),
    rules: t.Optional(fields.rules),
    ...OpenPartnerProgramFields,
  },
  { additionalProperties: false },
)
/** Changes to a program (PATCH /programs/:id): each field optional; OpenPartner's null holdback is none. */
export const ProgramChanges = t.Object(
  {
    ...t.Partial(t.Object(fields)).properties,
    ...OpenPartnerProgramChangeFields,
    holdbackDays: t.Optional(t.Nullable(fields.holdbackDays)),
  },
  { additionalProperties: false },
)

/** partnerd's fields, and OpenPartner's names for the same things (openpartner.ts). */
const ProgramSchema = t.Object({
  id: t.String(),
  name: t.String(),
  currency: t.String(),
  status: OneOf([...STATUSES]),
  destinationUrl: t.String(),
  deepLinkHosts: t.Array(t.String()),
  attribution: t.Object({ windowDays: t.Integer(), model: OneOf([...MODELS]) }),
  holdbackDays: t.Integer(),
  rules: t.Array(RuleSchema),
  createdAt: t.String({ format: 'date-time' }),
  updatedAt: t.String({ format: 'date-time' }),
  ...OpenPartnerProgramView,
})
const tags = ['Programs']
const answer = (program: Program) => ({ ...program, ...openPartnerView(program) })

/** Programs: managed by admins, readable by anyone signed in to the organization (partners see terms). */
export function programRoutes(api: TenantApi) {
  return api
    .post(
      '/programs',
      async ({ body, withTenant, set }) => {
        set.status = 201
        return answer(await withTenant((scope) => createProgram(scope, programInput(body))))
      },
      {
        auth: { scopes: ['*'] },
        body: ProgramBody,
        response: { 201: ProgramSchema },
        detail: {
          tags,
          summary: 'Create a program (a draft unless status says otherwise; active in OpenPartner’s shape, with commissionRule)',
        },
      },
    )
    .get(
      '/programs',
      async ({ query, withTenant, principal }) => {
        const page = await withTenant((scope) =>
          listPrograms(scope, { ...query, id: confineProgram(principal, undefined), partnerId: principal.partnerId }),
        )
        return { programs: page.items.map(answer), nextCursor: page.nextCursor }
      },
      {
        auth: true,
        query: t.Composite([PageQuery, t.Object({ status: t.Optional(OneOf(STATUSES)) })]),
        response: t.Object({ programs: t.Array(ProgramSchema), nextCursor: t.Nullable(t.String()) }),
        detail: { tags, summary: 'List programs' },
      },
    )
    .get(
      '/programs/:id',
      async ({ params, withTenant, principal }) =>
        answer(await withTenant((scope) => getProgram(scope, confineProgram(principal, params.id)!, principal.partnerId))),
      {
        auth: true,
        response: ProgramSchema,
        detail: { tags, summary: 'One program' },
      },
    )
    .patch(
      '/programs/:id',
      async ({ params, body, withTenant }) => answer(await withTenant((scope) => updateProgram(scope, params.id, programChanges(body)))),
      {
        auth: { scopes: ['*'] },
        body: ProgramChanges,
        response: ProgramSchema,
        detail: { tags, summary: 'Change a program (currency only while a draft; archived is final)' },
      },
    )
}
