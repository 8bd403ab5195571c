/**
 * What checking a credential read from the database, remembered for a few seconds, so that the
 * common request (the same key, session or member again) is a memory lookup rather than a statement
 * or two. The kinds: an API key by its digest, a session by its token's digest, a member's role
 * (and their partner's standing) by tenant and user, a person's organizations and the email and name
 * the console shows them by user. Keys and sessions are kept as checked (times as numbers, a key's
 * principal made), so a remembered one costs its digest, a lookup and a comparison.
 *
 * Staleness is bounded two ways:
 * - On this instance, at once: a Kysely plugin sees every statement the serving connection runs, and
 *   any write to the tables a kind was read from forgets that whole kind, right after the statement
 *   and again when its transaction commits (so a check that read the old row on another connection
 *   in between is not kept either). A write that only moves a credential's last use or idle renewal
 *   forgets nothing: checks themselves make those.
 * - Elsewhere (another instance on the same PostgreSQL, the CLI): after CREDENTIAL_CACHE_MS at most,
 *   when the entry expires. The README states this delay.
 *
 * Rarely written tables, coarse forgetting: a revocation, a sign-out or a role change clears a kind
 * for everyone, which costs one read per credential in use; simpler than knowing which entry a raw
 * statement touched, and never wrong.
 */
import type {
  KyselyPlugin,
  OperationNode,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely'
import { Remembered } from '../cache.ts'
import { afterCommit } from '../db/transaction-context.ts'
import type { Principal } from './principal.ts'
import type { SessionInfo } from './sessions/service.ts'

/** How long a credential check's reads answer without reading again: the longest a change made elsewhere goes unseen. */
export const CREDENTIAL_CACHE_MS = 5_000
type Kind = 'keys' | 'sessions' | 'members' | 'organizations' | 'people'

/**
 * Which kinds a write to each table makes stale; columns whose change forgets nothing; the kinds a
 * new row makes stale too (a list it joins).
 */
const STALE_BY_TABLE: Record<string, { kinds: Kind[]; harmless?: string[]; inserted?: Kind[] }> = {
  api_keys: { kinds: ['keys'], harmless: ['last_used_at'] },
  sessions: { kinds: ['sessions'], harmless: ['last_seen_at', 'idle_expires_at'] },
  // A disabled account's sessions end; a new email or name shows on the next page.
  users: { kinds: ['sessions', 'people'] },
  memberships: { kinds: ['members', 'organizations'], inserted: ['organizations'] },
  // A partner's standing decides whether its portal users get in.
  partners: { kinds: ['members'] },
  // An import or a tenant's removal replaces everything.
  tenants: { kinds: ['keys', 'sessions', 'members', 'organizations', 'people'] },
}
const RAW_WRITE = /\b(?:update|delete\s+from)\s+"?(\w+)"?/gi

/**
 * An API key as its checks need it, worked out once from its row when the row is read (api-keys/
 * service.ts): a request signed by a remembered key compares numbers and answers this principal.
 */
export interface CheckedKey {
  tenantId: string
  /** What every request the key signs is (frozen: one object shared by them all). */
  principal: Principal
  revoked: boolean
  /** Epoch milliseconds; Infinity for a key that never expires. */
  expiresAt: number
  /** Epoch milliseconds of the last use written (or -Infinity); the check that writes the next moves it. */
  lastUsedAt: number
}
/** A session with its user's standing, as its checks need it, worked out once from the row read (sessions/service.ts). */
export interface CheckedSession {
  /** What callers are told about the session (frozen), as of its last renewal. */
  info: SessionInfo
  /** Its user's account is disabled: the session answers nothing. */
  disabled: boolean
  /** Epoch milliseconds. */
  idleExpiresAt: number
  expiresAt: number
  lastSeenAt: number
}
/** An organization a person belongs to, as the switcher links it. */
export interface Organization {
  slug: string
  name: string
}
/** Who is signed in, as the console's pages name them. */
export interface Person {
  id: string
  email: string
  name: string | null
}
/** A member's role in a tenant, and whether their partner (a portal user's) is active. */
export interface MemberStanding {
  role: string
  partnerId: string | null
  partnerActive: boolean
}

export class CredentialCache {
  /** By the sha-256 of the key (the entry names its tenant: another tenant asking gets no key). */
  readonly keys = new Remembered<CheckedKey>(CREDENTIAL_CACHE_MS)
  /** By the sha-256 of the session token. */
  readonly sessions = new Remembered<CheckedSession>(CREDENTIAL_CACHE_MS)
  /** By `<tenant id>:<user id>`. */
  readonly members = new Remembered<MemberStanding>(CREDENTIAL_CACHE_MS)
  /** The organizations a person is a member of (users/organizations.ts), by user id. */
  readonly organizations = new Remembered<Organization[]>(CREDENTIAL_CACHE_MS)
  /** A signed-in person's email and name (the pages' menu), by user id. */
  readonly people = new Remembered<Person>(CREDENTIAL_CACHE_MS)
  readonly #pending = new WeakMap<object, Kind[]>()

  forget(kinds: Iterable<Kind>): void {
    for (const kind of kinds) this[kind].forget()
  }

  /** Installed on the serving Kysely instance (db/database.ts). */
  readonly plugin: KyselyPlugin = {
    transformQuery: ({ node, queryId }: PluginTransformQueryArgs): RootOperationNode => {
      const kinds = staleKinds(node)
      if (kinds.length > 0) this.#pending.set(queryId, kinds)
      return node
    },
    transformResult: async ({ result, queryId }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => {
      const kinds = this.#pending.get(queryId)
      if (kinds) {
        this.#pending.delete(queryId)
        this.forget(kinds)
        afterCommit(() => this.forget(kinds))
      }
      return result
    },
  }
}

/** The kinds a statement makes stale: by its table and, for an update, the columns it sets. */
function staleKinds(node: RootOperationNode): Kind[] {
  const any = node as OperationNode & Record<string, any>
  switch (node.kind) {
    case 'UpdateQueryNode': {
      const rule = STALE_BY_TABLE[tableName(any.table)]
      if (!rule) return []
      const columns: string[] = (any.updates ?? []).map((u: any) => u.column?.column?.name)
      const harmless = rule.harmless ?? []
      return columns.length > 0 && columns.every((c) => harmless.includes(c)) ? [] : rule.kinds
    }
    case 'DeleteQueryNode':
      return (any.from?.froms ?? []).flatMap((t: any) => STALE_BY_TABLE[tableName(t)]?.kinds ?? [])
    case 'InsertQueryNode': {
      // A new row makes nothing stale (only rows found are remembered), unless it replaces one or joins a list.
      const rule = STALE_BY_TABLE[tableName(any.into)]
      return any.onConflict ? (rule?.kinds ?? []) : (rule?.inserted ?? [])
    }
    case 'RawNode': {
      // sql`…` statements: their text says which table they write, not which columns.
      const text: string = (any.sqlFragments ?? []).join(' ')
      return [...text.matchAll(RAW_WRITE)].flatMap((m) => STALE_BY_TABLE[m[1]!.toLowerCase()]?.kinds ?? [])
    }
    default:
      return []
  }
}

function tableName(node: any): string {
  return node?.table?.identifier?.name ?? ''
}
