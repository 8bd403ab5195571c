/**
 * Scopes an API key may carry. `*` is the tenant admin key: everything within its tenant. The list is
 * the contract of OpenPartner's scoped keys plus the management scopes later features need. Each
 * area reads with `…:read` and changes with `…:write` or `…:manage`; a few managing scopes include
 * what they need to read (IMPLIED), so a key minted before the read scope existed keeps its reach.
 */
export const SCOPES = [
  'events:write',
  'partners:read',
  'partners:write',
  'commissions:read',
  'commissions:write',
  'links:read',
  'links:write',
  'payouts:read',
  'payouts:manage',
  'webhooks:read',
  'webhooks:manage',
  'team:read',
  'keys:read',
  'audit:read',
] as const

export type Scope = (typeof SCOPES)[number]
export const ALL_SCOPES = '*'

/** Scopes a granted scope carries with it. */
const IMPLIED: Partial<Record<Scope, Scope[]>> = {
  'payouts:manage': ['payouts:read', 'commissions:write'],
  'webhooks:manage': ['webhooks:read'],
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value)
}

/** The required scopes that `granted` lacks (none for `*`). */
export function hasScopes(granted: readonly string[], required: readonly string[]): string[] {
  if (granted.includes(ALL_SCOPES)) return []
  const held = new Set(granted.flatMap((s) => [s, ...(IMPLIED[s as Scope] ?? [])]))
  return required.filter((s) => !held.has(s))
}
