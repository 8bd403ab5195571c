/**
 * What a plugin is and what the host gives it. A plugin is a plain object; `definePlugin` only helps
 * the type checker. The host API is the whole contract: a plugin reaches the core through it and
 * nothing else, and an external plugin file imports nothing at run time but its own relative files
 * (bare imports do not resolve from a compiled binary). See docs/plugins.md.
 */
import type { Static, TSchema, Type } from '@sinclair/typebox'
import type { Kysely } from 'kysely'
import type { Migration } from 'kysely/migration'
import type { TrackingFacet } from '../attribution/facet.ts'
import type { CredentialKind } from '../auth/credential-kinds.ts'
import type { IdentityFacet } from '../auth/identity-facet.ts'
import type { AuthStrategy, Caller } from '../auth/principal.ts'
import type { SignInMethod } from '../auth/sign-in-methods.ts'
import type { TokenIssuer } from '../auth/tokens.ts'
import type { DomainEventHandler } from '../domain-events/bus.ts'
import type { AppError } from '../errors.ts'
import type { TenantApi } from '../http/tenant-api.ts'
import type { Logger } from '../log/logger.ts'
import type { Mailer } from '../mail/mailer.ts'
import type { PayoutProvider } from '../payouts/providers.ts'
import type { Tenant } from '../tenants/service.ts'
import type { ProgramFacet } from './program-facet.ts'

export interface PluginDefinition<S extends TSchema = TSchema> {
  /** Lower-case letters, digits and hyphens; names the plugin in logs, errors and its migration table. */
  name: string
  version: string
  /** Schema of the plugin's settings, or a function of the schema builder (external plugins cannot import one). */
  config?: S | ((t: typeof Type) => S)
  /**
   * Domain event types the plugin raises (`area.what_happened` → what it means). Only these and the
   * core's (domain-events/catalogue.ts) may be raised or subscribed to; webhooks can subscribe to them.
   */
  events?: Record<string, string>
  setup(host: PluginHost<Static<S>>): void | Promise<void>
}

/** A tenant-scoped handle for a plugin's own tables (they are not in the core's row types). */
export interface PluginTenantScope {
  tenantId: string
  db: Kysely<any>
  emit(type: string, data: unknown): void
}

export interface PluginHost<C = unknown> {
  /** The plugin's settings from the YAML, validated against its schema with defaults applied. */
  readonly config: C
  readonly log: Logger
  readonly mode: 'single' | 'multi'
  /** server.public_url: the base URL clients use. */
  readonly publicUrl: string
  /** The scopes an API key or credential may carry (`*` aside), as the core defines them. */
  readonly scopes: readonly string[]
  /** The schema builder (TypeBox), for route and config schemas. */
  readonly t: typeof Type
  /** The error type the core maps to `{error, detail}` responses. */
  readonly AppError: typeof AppError
  /** Add routes under the tenant API base (`/api` or `/api/t/<slug>`), with the tenant and the `auth` macro. */
  routes(register: (api: TenantApi) => unknown): void
  addAuthStrategy(strategy: AuthStrategy): void
  /** Offer a way to sign in on the sign-in pages (see auth/sign-in-methods.ts). */
  addSignInMethod(method: SignInMethod): void
  /** Credentials the plugin issues, run from the console's API keys area (see auth/credential-kinds.ts). */
  addCredentialKind(kind: CredentialKind): void
  /**
   * Issue access tokens for the sign-ins whose clients expect them (see auth/tokens.ts); one plugin
   * per server may, and sign-in plugins then answer with tokens through `identity.issueTokens`.
   */
  addTokenIssuer(issuer: TokenIssuer): void
  /** A payment provider for payout runs (`"method": "<name>"` in POST /payouts/run). */
  addPayoutProvider(provider: PayoutProvider): void
  /**
   * Subscribe to a domain event type (the core's, or one a loaded plugin declares), or `*` for all;
   * called after the change committed. An unknown type stops the start.
   */
  on(type: string, handler: DomainEventHandler): void
  /** Migrations for the plugin's own tables, applied with the core's; keyed by sortable names. */
  migrations(migrations: Record<string, Migration>): void
  /** For a migration of a tenant-owned table: adds PostgreSQL row-level security (no-op on SQLite). */
  isolateTenantRows(db: Kysely<any>, table: string): Promise<void>
  /** Run work (outside a request, e.g. in an event handler) in one tenant's transaction. */
  withTenant<T>(tenantId: string, fn: (scope: PluginTenantScope) => Promise<T>): Promise<T>
  /** For sign-in plugins: passwords, membership, sessions and their cookie, audit, CSRF, rate limits. */
  readonly identity: IdentityFacet
  /** Outgoing mail (config `mail`): SMTP, or .eml files in development. */
  readonly mail: Mailer
  /**
   * For integrations: record conversion events and identify customers, as the tracking API does.
   * Each call names its caller, `{ tenant, principal }` from an authenticated route's context, and
   * is held to that caller's scopes and program binding.
   */
  readonly tracking: TrackingFacet
  /** For integrations: create partners, read recent partners, commissions and payouts, subscribe webhooks; as `tracking`, for a caller. */
  readonly program: ProgramFacet
  /**
   * Keyed digests, for a short secret the plugin stores only to compare later (a 6-digit code): a
   * plain SHA-256 of it falls to a million guesses against a stolen database; this one is keyed with
   * a key derived from secrets.key for this plugin alone, which the database does not hold.
   */
  readonly secrets: PluginSecrets
  /**
   * The plugin itself as the caller, with every scope of the tenant: for a route that proves its
   * request by other means than a principal (a Stripe webhook's signature, a CRM's shared secret).
   */
  asPlugin(tenant: Pick<Tenant, 'id'>): Caller
}

export interface PluginSecrets {
  /** Hex HMAC-SHA256 of `value` under the plugin's current key. */
  digest(value: string): string
  /** Whether `digest` is `value`'s under the current or a previous key (secrets.previous_keys); constant time. */
  matches(value: string, digest: string): boolean
}

export function definePlugin<S extends TSchema>(plugin: PluginDefinition<S>): PluginDefinition<S> {
  return plugin
}
