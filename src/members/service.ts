/**
 * The people of an organization and their roles. Ownership is guarded: only an owner (or a headless
 * admin credential) makes or unmakes owners, and the last owner can be neither demoted nor removed, so
 * an organization is never left without someone who can manage it.
 */
import { type Actor, recordAudit } from '../audit/service.ts'
import type { Principal } from '../auth/principal.ts'
import { isRole, ROLES, type Role } from '../auth/roles.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { addMembership, createUser, normalizeEmail } from '../users/service.ts'

export interface Member {
  userId: string
  email: string
  name: string | null
  role: Role
  since: string
}

function checkRole(role: string): Role {
  if (!isRole(role)) throw new AppError(400, 'invalid_role', `role must be one of ${ROLES.join(', ')}`)
  return role
}

/** People (as opposed to keys with `*`) must be owners to touch ownership. */
function assertMayManage(by: Principal, roles: (Role | undefined)[]): void {
  if (by.kind === 'user' && by.role !== 'owner' && roles.includes('owner')) {
    throw new AppError(403, 'forbidden', 'only an owner can make, change or remove owners')
  }
}

async function ownerCount(scope: TenantScope): Promise<number> {
  const row = await scope.db
    .selectFrom('memberships')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('tenant_id', '=', scope.tenantId)
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

async function membership(scope: TenantScope, userId: string) {
  const row = await scope.db
    .selectFrom('memberships')
    .selectAll()
    .where('tenant_id', '=', scope.tenantId)
    .where('user_id', '=', userId)
    .executeTakeFirst()
  if (!row) throw new AppError(404, 'not_found', `no member ${userId}`)
  return row
}

export async function listMembers(scope: TenantScope): Promise<Member[]> {
  const rows = await scope.db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['users.id as userId', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at as since'])
    .where('memberships.tenant_id', '=', scope.tenantId)
    .orderBy('memberships.id')
    .execute()
  return rows.map((r) => ({ ...r, role: checkRole(r.role) }))
}

/** Adds a person by email, creating their account (unverified, no password) when there is none. */
export async function addMember(
  scope: TenantScope,
  input: { email: string; role: string; name?: string },
  by: Principal,
  actor: Actor,
): Promise<Member> {
  const email = normalizeEmail(input.email)
  const role = checkRole(input.role)
  assertMayManage(by, [role])
  const user =
    (await scope.db.selectFrom('users').select(['id', 'email', 'name']).where('email', '=', email).executeTakeFirst()) ??
    (await createUser(scope.db, { email, name: input.name }))
  const { created_at: now } = await addMembership(scope, user.id, role)
  await recordAudit(scope, { type: 'member.added', actor: actor.id, subject: user.id, ip: actor.ip, detail: { role } })
  scope.emit('member.added', { userId: user.id, role })
  return { userId: user.id, email: user.email, name: user.name, role, since: now }
}

export async function changeRole(scope: TenantScope, userId: string, newRole: string, by: Principal, actor: Actor): Promise<void> {
  const role = checkRole(newRole)
  const current = await membership(scope, userId)
  assertMayManage(by, [role, current.role as Role])
  if (current.role === 'owner' && role !== 'owner' && (await ownerCount(scope)) === 1) {
    throw new AppError(409, 'last_owner', 'the last owner cannot be demoted; make someone else owner first')
  }
  await scope.db.updateTable('memberships').set({ role }).where('tenant_id', '=', scope.tenantId).where('user_id', '=', userId).execute()
  await recordAudit(scope, {
    type: 'member.role_changed',
    actor: actor.id,
    subject: userId,
    ip: actor.ip,
    detail: { from: current.role, to: role },
  })
}

export async function removeMember(scope: TenantScope, userId: string, by: Principal, actor: Actor): Promise<void> {
  const current = await membership(scope, userId)
  assertMayManage(by, [current.role as Role])
  if (current.role === 'owner' && (await ownerCount(scope)) === 1) {
    throw new AppError(409, 'last_owner', 'the last owner cannot be removed')
  }
  await scope.db.deleteFrom('memberships').where('tenant_id', '=', scope.tenantId).where('user_id', '=', userId).execute()
  await recordAudit(scope, { type: 'member.removed', actor: actor.id, subject: userId, ip: actor.ip, detail: { role: current.role } })
}
