/**
 * Roles of people within an organization (tenant). Management routes declare the roles they accept;
 * scopes follow from the role, so a route that needs a scope accepts keys and people alike.
 * `partner` is a portal user: it reaches only its own partner's data, never management routes.
 */
import { ALL_SCOPES, type Scope } from './scopes.ts'

export const ROLES = ['owner', 'admin', 'member', 'viewer', 'partner'] as const
export type Role = (typeof ROLES)[number]

/** A viewer sees everything the console shows, and changes nothing. */
const READ: Scope[] = [
  'partners:read',
  'commissions:read',
  'links:read',
  'payouts:read',
  'webhooks:read',
  'team:read',
  'keys:read',
  'audit:read',
]
/** A member also acts on partners, links and commissions, but not on keys, team, webhooks or payouts. */
const WRITE: Scope[] = [...READ, 'events:write', 'partners:write', 'links:write', 'commissions:write']

export const ROLE_SCOPES: Record<Role, readonly string[]> = {
  owner: [ALL_SCOPES],
  admin: [ALL_SCOPES],
  member: WRITE,
  viewer: READ,
  partner: [],
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value)
}
