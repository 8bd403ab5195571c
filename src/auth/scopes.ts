/**
 * Scopes an API key may carry. `*` is the tenant admin key: everything within its tenant. The list is
 * the contract of OpenPartner's scoped keys plus the management scopes later features need.
 */
export const SCOPES = [
  'events:write',
  'partners:read',
  'partners:write',
  'commissions:read',
  'links:read',
  'links:write',
  'webhooks:manage',
  'payouts:manage',
] as const

export type Scope = (typeof SCOPES)[number]
export const ALL_SCOPES = '*'

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value)
}

export function hasScopes(granted: readonly string[], required: readonly string[]): string[] {
  if (granted.includes(ALL_SCOPES)) return []
  return required.filter((s) => !granted.includes(s))
}
