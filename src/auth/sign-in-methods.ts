/**
 * The ways people sign in on the sign-in page (the console's and the portal's), each offered by the
 * plugin that proves it: `password`, `magic` (a mailed code), `oauth` (providers). The page owns the
 * HTML, the session, CSRF and where the person lands; the method only proves who they are, with the
 * same rules (limits, audit, one answer for every failure) as the plugin's API routes.
 */
import type { Tenant } from '../tenants/service.ts'

export interface PasswordSignIn {
  kind: 'password'
  /** The member's id; a 401 (the same for any failure) or 429 AppError otherwise. */
  signIn(input: { tenant: Tenant; email: string; password: string; ip?: string }): Promise<{ userId: string }>
}

export interface EmailCodeSignIn {
  kind: 'email-code'
  /** Mails a code to a member's email (nothing to anyone else, with the same answer); the attempt to verify against. */
  send(input: { tenant: Tenant; email: string; ip?: string; apiBase: string }): Promise<{ attemptId: string; expiresAt: string }>
  /** The member's id for a right code; a 401 AppError (the same for any failure) or 429 otherwise. */
  verify(input: { tenant: Tenant; attemptId: string; code: string; ip?: string }): Promise<{ userId: string }>
}

export interface ProviderSignIn {
  kind: 'provider'
  providers: { id: string; label: string }[]
  /** Where the flow starts, under the tenant's API base; `next` is the same-origin path to land on. */
  startPath(provider: string, next: string): string
}

export type SignInMethod = PasswordSignIn | EmailCodeSignIn | ProviderSignIn

/** A same-origin path to go to after signing in, or the fallback: never another site (no open redirect). */
export function safeNext(next: string | null | undefined, fallback: string): string {
  if (!next?.startsWith('/') || next.startsWith('//') || next.includes('\\') || [...next].some((c) => c.charCodeAt(0) < 0x20)) {
    return fallback
  }
  try {
    const url = new URL(next, 'http://partnerd.invalid')
    return url.origin === 'http://partnerd.invalid' ? url.pathname + url.search + url.hash : fallback
  } catch {
    return fallback
  }
}
