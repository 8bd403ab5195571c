import { t } from 'elysia'
import { ROLES } from '../auth/roles.ts'
import { OneOf } from '../http/one-of.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import { addMember, changeRole, listMembers, removeMember } from './service.ts'

const MemberSchema = t.Object({
  userId: t.String(),
  email: t.String(),
  name: t.Nullable(t.String()),
  role: OneOf([...ROLES]),
  since: t.String({ format: 'date-time' }),
})
const admins = { scopes: ['*' as const] }
const read = { scopes: ['team:read' as const] }

/** Managing the organization's people: owners and admins (and admin keys). */
export function memberRoutes(api: TenantApi) {
  return api
    .get('/members', async ({ withTenant }) => ({ members: await withTenant((scope) => listMembers(scope)) }), {
      auth: read,
      response: t.Object({ members: t.Array(MemberSchema) }),
      detail: { tags: ['Members'], summary: 'The people of this organization and their roles' },
    })
    .post(
      '/members',
      async ({ body, principal, ip, withTenant, set }) => {
        set.status = 201
        return withTenant((scope) => addMember(scope, body, principal, { id: principal.id, ip }))
      },
      {
        auth: admins,
        body: t.Object(
          {
            email: t.String({ minLength: 3, maxLength: 254 }),
            role: OneOf([...ROLES]),
            name: t.Optional(t.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: MemberSchema },
        detail: { tags: ['Members'], summary: 'Add a person (their account is created if need be)' },
      },
    )
    .patch(
      '/members/:userId',
      async ({ params, body, principal, ip, withTenant, set }) => {
        await withTenant((scope) => changeRole(scope, params.userId, body.role, principal, { id: principal.id, ip }))
        set.status = 204
      },
      {
        auth: admins,
        body: t.Object({ role: OneOf([...ROLES]) }, { additionalProperties: false }),
        detail: { tags: ['Members'], summary: 'Change a member’s role (never the last owner’s)' },
      },
    )
    .delete(
      '/members/:userId',
      async ({ params, principal, ip, withTenant, set }) => {
        await withTenant((scope) => removeMember(scope, params.userId, principal, { id: principal.id, ip }))
        set.status = 204
      },
      { auth: admins, detail: { tags: ['Members'], summary: 'Remove a member (never the last owner)' } },
    )
}
