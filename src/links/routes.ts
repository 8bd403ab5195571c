import { t } from 'elysia'
import { assertInProgram, confineProgram } from '../auth/binding.ts'
import { PageQuery } from '../db/pagination.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { reachPartner } from '../partners/reach.ts'
import { inOpenPartnerTerms, linkAnswer, linkInput, OpenPartnerLinkBody } from './openpartner.ts'
import { archiveLink, createLink, getLink, LINK_KEY_PATTERN, listLinks } from './service.ts'

export const LinkSchema = t.Object({
  id: t.String(),
  key: t.String({ description: 'The path segment of /r/<key>.' }),
  partnerId: t.String(),
  programId: t.String(),
  destinationUrl: t.Nullable(t.String({ description: "A deep link; null sends visitors to the program's destination." })),
  createdAt: t.String({ format: 'date-time' }),
  archivedAt: t.Nullable(t.String({ format: 'date-time' })),
})
const tags = ['Links']
/** A link as OpenPartner's routes answer it: the same, with `linkKey` beside `key`. */
const OpenPartnerLinkSchema = t.Composite([LinkSchema, t.Object({ linkKey: t.String() })])

export function linkRoutes(api: TenantApi) {
  return api
    .post(
      '/links',
      async ({ body, withTenant, set, principal }) => {
        confineProgram(principal, body.programId)
        set.status = 201
        return withTenant(async (scope) => {
          await reachPartner(scope, principal, body.partnerId, 'read')
          return createLink(scope, body)
        })
      },
      {
        auth: { scopes: ['links:write'] },
        body: t.Object(
          {
            partnerId: t.String({ maxLength: 64 }),
            programId: t.String({ maxLength: 64 }),
            key: t.Optional(t.String({ pattern: LINK_KEY_PATTERN, description: '3–64 letters, digits, - or _; generated when left out.' })),
            destinationUrl: t.Optional(
              t.String({ maxLength: 2048, description: "A deep link on the program's destination host or one of its deepLinkHosts." }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: LinkSchema },
        detail: { tags, summary: 'Create a link (enrols the partner in the program if needed; 409 key_taken)' },
      },
    )
    .get(
      '/links',
      async ({ query, withTenant, principal }) => {
        const page = await withTenant((scope) => listLinks(scope, { ...query, programId: confineProgram(principal, query.programId) }))
        return { links: page.items, nextCursor: page.nextCursor }
      },
      {
        auth: { scopes: ['links:read'] },
        query: t.Composite([
          PageQuery,
          t.Object({ partnerId: t.Optional(t.String({ maxLength: 64 })), programId: t.Optional(t.String({ maxLength: 64 })) }),
        ]),
        response: t.Object({ links: t.Array(LinkSchema), nextCursor: t.Nullable(t.String()) }),
        detail: { tags, summary: 'List links, by partner or program' },
      },
    )
    .get(
      '/links/:id',
      async ({ params, withTenant, principal }) => assertInProgram(principal, await withTenant((scope) => getLink(scope, params.id))),
      {
        auth: { scopes: ['links:read'] },
        response: LinkSchema,
        detail: { tags, summary: 'One link' },
      },
    )
    .post(
      '/partners/:id/links',
      async ({ params, body, withTenant, set, principal }) => {
        confineProgram(principal, body.programId)
        try {
          const link = await withTenant(async (scope) => {
            await reachPartner(scope, principal, params.id, 'read')
            return createLink(scope, linkInput(params.id, body))
          })
          set.status = 201
          return linkAnswer(link)
        } catch (err) {
          throw inOpenPartnerTerms(err)
        }
      },
      {
        auth: { scopes: ['links:write'] },
        body: OpenPartnerLinkBody,
        response: { 201: OpenPartnerLinkSchema },
        detail: { tags, summary: 'Create a link for the partner, in OpenPartner’s shape (409 linkKey_taken)' },
      },
    )
    .get(
      '/partners/:id/links',
      async ({ params, query, withTenant, principal }) => {
        const page = await withTenant(async (scope) => {
          await reachPartner(scope, principal, params.id, 'read')
          return listLinks(scope, { ...query, partnerId: params.id, programId: confineProgram(principal, undefined) })
        })
        return { links: page.items.map(linkAnswer), nextCursor: page.nextCursor }
      },
      {
        auth: { scopes: ['links:read'] },
        query: PageQuery,
        response: t.Object({ links: t.Array(OpenPartnerLinkSchema), nextCursor: t.Nullable(t.String()) }),
        detail: { tags, summary: 'A partner’s links, in OpenPartner’s shape' },
      },
    )
    .post(
      '/links/:id/archive',
      ({ params, withTenant, principal }) =>
        withTenant(async (scope) => {
          assertInProgram(principal, await getLink(scope, params.id))
          return archiveLink(scope, params.id)
        }),
      {
        auth: { scopes: ['links:write'] },
        response: LinkSchema,
        detail: { tags, summary: 'Archive a link: the router answers 404 for it; its history stays' },
      },
    )
}
