/**
 * What a page request knows, and how a page answers. Two kinds of page: a tenant's public pages
 * (sign-in, setup), which know the organization but not yet who is asking; and the console's, which
 * know the signed-in member, their role, and their session's CSRF token. Pages answer with a whole
 * HTML document (htmx takes the part it wants), a 303 after a change (POST, redirect, GET), or a file.
 */
import type { VNode } from 'preact'
import type { CredentialKind } from '../auth/credential-kinds.ts'
import type { IdentityFacet } from '../auth/identity-facet.ts'
import type { AuthStrategy, Principal } from '../auth/principal.ts'
import { type ALL_SCOPES, hasScopes, type Scope } from '../auth/scopes.ts'
import type { SignInMethod } from '../auth/sign-in-methods.ts'
import type { Config } from '../config/schema.ts'
import type { Database } from '../db/database.ts'
import type { TenantScope, TenantTransactionOptions, WithTenant } from '../db/with-tenant.ts'
import type { DomainEventBus } from '../domain-events/bus.ts'
import type { Logger } from '../log/logger.ts'
import type { Mailer } from '../mail/mailer.ts'
import type { PayoutProvider } from '../payouts/providers.ts'
import type { TenantResolver } from '../tenants/resolver.ts'
import type { Tenant } from '../tenants/service.ts'
import type { AssetName } from './assets/index.ts'
import type { FlashMessage } from './components/flash.tsx'
import type { ConsoleReads } from './console-reads.ts'
import type { Formatter } from './format.ts'
import type { Form } from './forms.ts'
import { renderHtml } from './html.ts'
import { PAGE_HEADERS } from './security.ts'

export interface WebDeps {
  config: Config
  log: Logger
  database: Database
  withTenant: WithTenant
  resolveTenant: TenantResolver
  /** The session cookie strategy: the only credential pages take. */
  sessions: AuthStrategy
  identity: IdentityFacet
  mail: Mailer
  signIn: readonly SignInMethod[]
  /** Credentials plugins issue besides API keys (X-Auth pairs), run from the keys area. */
  credentialKinds: readonly CredentialKind[]
  bus: DomainEventBus
  /** Names of the plugins that are on (the pages show what they offer). */
  plugins: readonly string[]
  /** Payment providers by name, as POST /payouts/run takes them. */
  payoutProviders: ReadonlyMap<string, PayoutProvider>
  /** What every console page shows besides its own data (badges, program names), remembered per tenant. */
  reads: ConsoleReads
}

/** Where a tenant's pages and API are: `/admin` and `/api` in single mode, under `/t/<slug>` in multi mode. */
export interface Paths {
  /** `` or `/t/<slug>`: the tenant's pages. */
  root: string
  /** The console's home. */
  admin: string
  /** The tenant's API base, as clients call it. */
  api: string
  signIn: string
  /** A path of the console: `to('/partners')`. */
  to(path: string): string
}

export function pathsFor(mode: Config['mode'], tenant: Tenant): Paths {
  const root = mode === 'single' ? '' : `/t/${tenant.slug}`
  const admin = `${root}/admin`
  return {
    root,
    admin,
    api: mode === 'single' ? '/api' : `/api/t/${tenant.slug}`,
    signIn: `${root}/sign-in`,
    to: (path) => `${admin}${path}`,
  }
}

/** A request to one of a tenant's pages. */
export interface TenantPage {
  deps: WebDeps
  request: Request
  url: URL
  params: Record<string, string>
  tenant: Tenant
  paths: Paths
  fmt: Formatter
  assets: Record<AssetName, string>
  ip: string | undefined
  /** The message the previous action left (shown once). */
  flash: FlashMessage | undefined
  withTenant<T>(fn: (scope: TenantScope) => Promise<T>, options?: TenantTransactionOptions): Promise<T>
  /** A POST's form, read once (its CSRF token was checked before the page saw it). */
  form: Form | undefined
}

/** A signed-in member's request to the console. */
export interface MemberPage extends TenantPage {
  principal: Principal
  user: { id: string; email: string; name: string | null }
  /** The session's CSRF token, for every form. */
  csrf: string
  /** Whether the member's role grants these scopes (the page shows the action; the server still checks). */
  can(...scopes: (Scope | typeof ALL_SCOPES)[]): boolean
}

export function canFor(principal: Principal): (...scopes: (Scope | typeof ALL_SCOPES)[]) => boolean {
  return (...scopes) => hasScopes(principal.scopes, scopes).length === 0
}

// --- answers --------------------------------------------------------------------------------------

const FLASH_COOKIE = 'op_flash'

/** The flash message a redirect left in its cookie, if any. */
export function readFlash(request: Request): FlashMessage | undefined {
  const raw = request.headers
    .get('cookie')
    ?.split(';')
    .map((c) => c.trim())
    .find((c) => c.startsWith(`${FLASH_COOKIE}=`))
    ?.slice(FLASH_COOKIE.length + 1)
  if (!raw) return undefined
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as FlashMessage
    return (parsed.kind === 'ok' || parsed.kind === 'error') && typeof parsed.text === 'string' ? parsed : undefined
  } catch {
    return undefined
  }
}

function flashCookie(message: FlashMessage | undefined, secure: boolean): string {
  const value = message ? Buffer.from(JSON.stringify(message)).toString('base64url') : ''
  return `${FLASH_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${message ? 60 : 0}${secure ? '; Secure' : ''}`
}

/** A whole page. A flash message it shows is spent (its cookie cleared). */
export function htmlPage(page: TenantPage, document: VNode, status = 200, extra: Record<string, string | string[]> = {}): Response {
  const headers = new Headers(PAGE_HEADERS)
  if (page.flash) headers.append('set-cookie', flashCookie(undefined, page.deps.identity.secureCookies))
  for (const [name, value] of Object.entries(extra)) for (const v of [value].flat()) headers.append(name, v)
  return new Response(`<!doctype html>${renderHtml(document)}`, { status, headers })
}

/** 303 See Other: after a change, to the page that shows it, with a message for it. */
export function redirectTo(page: Pick<TenantPage, 'deps'>, location: string, flash?: FlashMessage, cookies: string[] = []): Response {
  const headers = new Headers({ location, 'cache-control': 'no-store' })
  if (flash) headers.append('set-cookie', flashCookie(flash, page.deps.identity.secureCookies))
  for (const cookie of cookies) headers.append('set-cookie', cookie)
  return new Response(null, { status: 303, headers })
}

/** A file to download (CSV, JSON). */
export function download(body: string, filename: string, type: string): Response {
  return new Response(body, {
    headers: {
      'content-type': type,
      'content-disposition': `attachment; filename="${filename}"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
  })
}
