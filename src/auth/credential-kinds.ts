/**
 * Credentials a plugin issues besides the core's API keys (xauth's X-Auth pairs). The console runs
 * them where it runs the keys: it lists them, issues one from a form and shows its secrets once, and
 * revokes one, with the keys' rules of who may (keys:read to see them, an owner or admin to issue or
 * revoke). The plugin keeps its own rules: the form's input is checked against `schema`, the body
 * schema of the plugin's own API route, and `issue` refuses the rest with the errors that route gives.
 */
import type { TSchema } from '@sinclair/typebox'
import type { PluginTenantScope } from '../plugins/contract.ts'

export interface IssuedCredential {
  id: string
  name: string
  /** What it reaches, in a few words: "acts as one partner", "partners:read, links:read". */
  reach: string
  /** The partner it acts as, if it does (the console names it). */
  partnerId?: string | null
  createdAt: string
  lastUsedAt: string | null
  revokedAt: string | null
}

/**
 * A field of the issue form, named as in the API body. `scopes` offers the core's scopes as
 * checkboxes (none ticked: the field is left out); `partner` takes a partner's id or email, which
 * the console turns into the id.
 */
export interface CredentialField {
  name: string
  label: string
  hint?: string
  type: 'text' | 'choice' | 'scopes' | 'partner'
  /** For `choice`. */
  options?: { value: string; label: string }[]
  required?: boolean
}

export interface CredentialKind {
  /** In the console's paths (`/admin/credentials/<id>`): lower-case letters, digits and hyphens. */
  id: string
  /** "X-Auth pairs". */
  title: string
  /** One of them: "X-Auth pair". */
  one: string
  /** What they are and how a client sends them: a sentence or two. */
  about: string
  fields: CredentialField[]
  /** The body schema of the plugin's issuing route: the form's input passes it before `issue` sees it. */
  schema: TSchema
  list(scope: PluginTenantScope): Promise<IssuedCredential[]>
  /** The new credential and what to show once; an AppError otherwise (its detail may start with the field: `partnerId: …`). */
  issue(
    scope: PluginTenantScope,
    input: Record<string, unknown>,
  ): Promise<{ credential: IssuedCredential; secrets: { label: string; value: string }[] }>
  /** The credential as revoked, or undefined when there is no such credential. */
  revoke(scope: PluginTenantScope, id: string): Promise<IssuedCredential | undefined>
}

export const CREDENTIAL_KIND_ID = /^[a-z][a-z0-9-]{0,39}$/
