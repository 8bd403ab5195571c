import { t } from 'elysia'
import { PageQuery } from '../../db/pagination.ts'
import { OneOf } from '../../http/one-of.ts'
import type { TenantApi } from '../../http/tenant-api.ts'
import { ALL_SCOPES, SCOPES } from '../scopes.ts'
import { listApiKeys, mintApiKey, revokeApiKey } from './service.ts'

export const ApiKeySchema = t.Object({
  id: t.String(),
  name: t.String(),
  start: t.String({ description: 'First characters of the key, to recognise it; not a secret.' }),
  scopes: t.Array(t.String()),
  createdAt: t.String({ format: 'date-time' }),
  expiresAt: t.Nullable(t.String({ format: 'date-time' })),
  revokedAt: t.Nullable(t.String({ format: 'date-time' })),
  lastUsedAt: t.Nullable(t.String({ format: 'date-time' })),
  partnerId: t.Nullable(t.String({ description: 'Bound to a partner: the key acts only as that partner.' })),
  programId: t.Nullable(t.String({ description: "Bound to a program: the key sees and records only that program's data." })),
})

const MintBody = t.Object(
  {
    name: t.String({ minLength: 1, maxLength: 100 }),
    scopes: t.Optional(
      t.Array(OneOf([ALL_SCOPES, ...SCOPES]), {
        minItems: 1,
        maxItems: SCOPES.length,
        description: 'Scopes the key carries; `*` (the default) makes a tenant admin key.',
      }),
    ),
    expiresAt: t.Optional(t.String({ format: 'date-time' })),
    partnerId: t.Optional(t.String({ maxLength: 64, description: 'Bind the key to a partner (give no scopes).' })),
    programId: t.Optional(t.String({ maxLength: 64, description: 'Bind the key to a program.' })),
  },
  { additionalProperties: false },
)

/** Tenant admins mint, list and revoke the tenant's API keys. */
export function apiKeyRoutes(prefix: string) {
  return (api: TenantApi) =>
    api
      .post(
        '/api-keys',
        async ({ body, withTenant, set, principal, ip }) => {
          const minted = await withTenant((scope) => mintApiKey(scope, prefix, body, { id: principal.id, ip }))
          set.status = 201
          return minted
        },
        {
          auth: { scopes: [ALL_SCOPES] },
          body: MintBody,
          response: { 201: t.Composite([ApiKeySchema, t.Object({ key: t.String({ description: 'The key. Shown once.' }) })]) },
          detail: { tags: ['API keys'], summary: 'Mint an API key (the key is in the answer, once)' },
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
          query: PageQuery,
          response: t.Object({ apiKeys: t.Array(ApiKeySchema), nextCursor: t.Nullable(t.String()) }),
          detail: { tags: ['API keys'], summary: 'List API keys (never the keys themselves)' },
        },
      )
      .post(
        '/api-keys/:id/revoke',
        ({ params, withTenant, principal, ip }) => withTenant((scope) => revokeApiKey(scope, params.id, { id: principal.id, ip })),
        {
          auth: { scopes: [ALL_SCOPES] },
          response: ApiKeySchema,
          detail: { tags: ['API keys'], summary: 'Revoke an API key; it fails from the next request on' },
        },
      )
}
