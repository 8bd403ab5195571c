/**
 * API keys: minted, listed and revoked by tenant admins; a partner's keys also by the partner itself.
 * OpenPartner's routes sit beside partnerd's: `label` names a key as `name` does, and a minted key is
 * answered as `plaintext` too (`POST /api-keys`, `/api-keys/scoped`, `/partners/:id/api-keys`), a key
 * is revoked by `DELETE /api-keys/:id` as by `POST /api-keys/:id/revoke`.
 */
import { t } from 'elysia'
import { fetchAll, PageQuery } from '../../db/pagination.ts'
import { OneOf } from '../../http/one-of.ts'
import type { TenantApi } from '../../http/tenant-api.ts'
import { assertWithinQuota } from '../../partners/portal.ts'
import { reachPartner } from '../../partners/reach.ts'
import { ALL_SCOPES, SCOPES } from '../scopes.ts'
import { listApiKeys, mintApiKey, revokeApiKey } from './service.ts'

export const ApiKeySchema = t.Object({
  id: t.String(),
  name: t.String(),
  label: t.String({ description: 'The name, under OpenPartner’s word for it.' }),
  start: t.String({ description: 'First characters of the key, to recognise it; not a secret.' }),
  prefix: t.String({ description: 'The same as start (OpenPartner’s word).' }),
  scopes: t.Array(t.String()),
  createdAt: t.String({ format: 'date-time' }),
  expiresAt: t.Nullable(t.String({ format: 'date-time' })),
  revokedAt: t.Nullable(t.String({ format: 'date-time' })),
  lastUsedAt: t.Nullable(t.String({ format: 'date-time' })),
  partnerId: t.Nullable(t.String({ description: 'Bound to a partner: the key acts only as that partner.' })),
  programId: t.Nullable(t.String({ description: "Bound to a program: the key sees and records only that program's data." })),
})
export const MintedSchema = t.Composite([
  ApiKeySchema,
  t.Object({
    key: t.String({ description: 'The key. Shown once.' }),
    plaintext: t.String({ description: 'The same key, under OpenPartner’s name for it.' }),
  }),
])

const Name = t.String({ minLength: 1, maxLength: 100 })
const Scopes = t.Array(OneOf([ALL_SCOPES, ...SCOPES]), {
  minItems: 1,
  maxItems: SCOPES.length,
  description: 'Scopes the key carries; `*` (the default) makes a tenant admin key.',
})
const MintBody = t.Object(
  {
    name: t.Optional(Name),
    label: t.Optional(t.String({ minLength: 1, maxLength: 100, description: 'OpenPartner’s name for `name`.' })),
    scopes: t.Optional(Scopes),
    expiresAt: t.Optional(t.String({ format: 'date-time' })),
    partnerId: t.Optional(t.String({ maxLength: 64, description: 'Bind the key to a partner (give no scopes).' })),
    programId: t.Optional(
      t.String({ maxLength: 64, description: 'Bind the key to a program; without scopes it gets every scope a program key may carry.' }),
    ),
  },
  { additionalProperties: false },
)
const LabelBody = t.Optional(
  t.Object(
    { label: t.Optional(t.String({ minLength: 1, maxLength: 100 })), expiresAt: t.Optional(t.String({ format: 'date-time' })) },
    { additionalProperties: false },
  ),
)
const admin = { scopes: [ALL_SCOPES] as (typeof ALL_SCOPES)[] }
const tags = ['API keys']

/**
 * What a key is called: its name, else its label (OpenPartner's), else what the route mints when
 * neither is given (OpenPartner's keys may go unnamed).
 */
function nameOf(body: { name?: string; label?: string } | null | undefined, otherwise: string): string {
  return body?.name ?? body?.label ?? otherwise
}

/** Tenant admins mint, list and revoke the tenant's API keys. */
export function apiKeyRoutes(prefix: string) {
  return (api: TenantApi) =>
    api
      .post(
        '/api-keys',
        async ({ body, withTenant, set, principal, ip }) => {
          const { label: _label, ...input } = body
          const minted = await withTenant((scope) =>
            mintApiKey(scope, prefix, { ...input, name: nameOf(body, 'API key') }, { id: principal.id, ip }),
          )
          set.status = 201
          return minted
        },
        {
          auth: admin,
          body: MintBody,
          response: { 201: MintedSchema },
          detail: { tags, summary: 'Mint an API key (the key is in the answer, once)' },
        },
      )
      .post(
        '/api-keys/scoped',
        async ({ body, withTenant, set, principal, ip }) => {
          const minted = await withTenant((scope) =>
            mintApiKey(
              scope,
              prefix,
              { name: nameOf(body, 'scoped'), scopes: body.scopes, expiresAt: body.expiresAt },
              { id: principal.id, ip },
            ),
          )
          set.status = 201
          return minted
        },
        {
          auth: admin,
          body: t.Object(
            {
              scopes: Scopes,
              label: t.Optional(t.String({ minLength: 1, maxLength: 100 })),
              name: t.Optional(Name),
              expiresAt: t.Optional(t.String({ format: 'date-time' })),
            },
            { additionalProperties: false },
          ),
          response: { 201: MintedSchema },
          detail: { tags, summary: 'Mint a key with these scopes only (OpenPartner’s integration keys)' },
        },
      )
      .get(
        '/api-keys',
        async ({ query, withTenant }) => {
          const page = await withTenant((scope) => listApiKeys(scope, query))
          return { apiKeys: page.items, nextCursor: page.nextCursor }
        },
        {
          auth: { scopes: ['keys:read'] },
          query: t.Composite([
            PageQuery,
            t.Object({ scope: t.Optional(t.String({ maxLength: 40, description: 'Only the keys minted with this scope.' })) }),
          ]),
          response: t.Object({ apiKeys: t.Array(ApiKeySchema), nextCursor: t.Nullable(t.String()) }),
          detail: { tags, summary: 'List API keys (never the keys themselves)' },
        },
      )
      .post(
        '/api-keys/:id/revoke',
        ({ params, withTenant, principal, ip }) => withTenant((scope) => revokeApiKey(scope, params.id, { id: principal.id, ip })),
        {
          auth: admin,
          response: ApiKeySchema,
          detail: { tags, summary: 'Revoke an API key; it fails from the next request on' },
        },
      )
      .delete(
        '/api-keys/:id',
        async ({ params, withTenant, principal, ip }) => ({
          ok: true as const,
          ...(await withTenant((scope) => revokeApiKey(scope, params.id, { id: principal.id, ip }))),
        }),
        {
          auth: admin,
          response: t.Composite([t.Object({ ok: t.Literal(true) }), ApiKeySchema]),
          detail: { tags, summary: 'Revoke an API key (OpenPartner’s verb for POST /api-keys/:id/revoke)' },
        },
      )
      .post(
        '/partners/:id/api-keys',
        async ({ params, body, withTenant, set, principal, ip }) => {
          set.status = 201
          return withTenant(async (scope) => {
            await reachPartner(scope, principal, params.id, 'change')
            // A partner minting its own keys keeps to its quota, as on /me/api-keys.
            if (principal.partnerId) await assertWithinQuota(scope, params.id, 'api_keys')
            return mintApiKey(
              scope,
              prefix,
              { name: nameOf(body, 'partner key'), partnerId: params.id, expiresAt: body?.expiresAt },
              { id: principal.id, ip },
            )
          })
        },
        {
          auth: { ...admin, partnerSelf: 'id' },
          body: LabelBody,
          response: { 201: MintedSchema },
          detail: { tags, summary: 'Mint a key that acts only as this partner (admins, or the partner itself)' },
        },
      )
      .get(
        '/partners/:id/api-keys',
        async ({ params, withTenant, principal }) => ({
          apiKeys: await withTenant(async (scope) => {
            await reachPartner(scope, principal, params.id, 'read')
            return fetchAll((page) => listApiKeys(scope, { ...page, partnerId: params.id }))
          }),
        }),
        {
          auth: { scopes: ['keys:read'], partnerSelf: 'id' },
          response: t.Object({ apiKeys: t.Array(ApiKeySchema) }),
          detail: { tags, summary: "A partner's keys (admins, or the partner itself; never the keys themselves)" },
        },
      )
}
