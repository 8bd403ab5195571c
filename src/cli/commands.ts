/**
 * The operator commands: migrate, tenant create|list, key create|list|revoke, user create, export, import,
 * secrets rotate. Each opens the same runtime as the server (so the same config, checks and migrations
 * apply) and closes it when done. backup and restore do not: they must leave the database as it is.
 */
import { resolve } from 'node:path'
import { listApiKeys, mintApiKey, revokeApiKey } from '../auth/api-keys/service.ts'
import { isRole, ROLES } from '../auth/roles.ts'
import { randomSecret } from '../auth/secrets.ts'
import { POSTGRES_BACKUP, POSTGRES_RESTORE } from '../backups/postgres.ts'
import { describeRestore, restoreSqlite } from '../backups/restore.ts'
import { backupSqlite, describeBackup } from '../backups/sqlite-backup.ts'
import { type LoadedConfig, resolveConfigPath } from '../config/load.ts'
import { importOpenPartnerBundle, isOpenPartnerBundle } from '../data/openpartner-bundle.ts'
import { exportTenant, importTenant } from '../data/transfer.ts'
import { fetchAll } from '../db/pagination.ts'
import { StartupError } from '../errors.ts'
import { createLogger } from '../log/logger.ts'
import { addMember } from '../members/service.ts'
import { openRuntime, type Runtime } from '../runtime.ts'
import { Keyring } from '../secrets/keyring.ts'
import { generateKey } from '../secrets/keys.ts'
import { resealStoredSecrets } from '../secrets/stored.ts'
import { createTenant, DEFAULT_TENANT_SLUG, ensureDefaultTenant, findTenantBySlug, listTenants, type Tenant } from '../tenants/service.ts'
import { accountLink, issueSetupToken } from '../users/account-links.ts'
import { createUser } from '../users/service.ts'

export interface CommandOptions {
  json: boolean
  tenant?: string
  name?: string
  /** tenant create: the tenant's default currency (ISO 4217). */
  currency?: string
  scopes?: string
  expiresAt?: string
  email?: string
  role?: string
  /** Read the password from standard input rather than generating one. */
  passwordStdin?: boolean
}

type Print = (line: string) => void

/** Commands print their results; the log only says what went wrong. */
function commandLog(loaded: LoadedConfig) {
  return createLogger({ ...loaded.config.logging, level: loaded.config.logging.level === 'info' ? 'warn' : loaded.config.logging.level })
}

async function withRuntime<T>(loaded: LoadedConfig, migrateFirst: boolean, fn: (rt: Runtime) => Promise<T>): Promise<T> {
  const log = commandLog(loaded)
  const runtime = await openRuntime(loaded, { migrate: migrateFirst || loaded.config.database.auto_migrate, log })
  try {
    return await fn(runtime)
  } finally {
    await runtime.close()
  }
}

export async function migrateCommand(loaded: LoadedConfig, print: Print): Promise<void> {
  await withRuntime(loaded, true, async (rt) => {
    const total = rt.migrationSets.reduce((n, s) => n + Object.keys(s.migrations).length, 0)
    print(`schema is current (${total} migration(s) known) on ${rt.database.dialect}`)
  })
}

export async function tenantCommand(loaded: LoadedConfig, action: string | undefined, args: string[], opts: CommandOptions, print: Print) {
  await withRuntime(loaded, false, async (rt) => {
    if (action === 'create') {
      const slug = args[0]
      if (!slug) throw new StartupError('tenant create: give the slug, e.g. `partnerd tenant create acme --name "Acme Inc"`')
      const tenant = await createTenant(rt.database.db, rt.bus, rt.secrets, { slug, name: opts.name, defaultCurrency: opts.currency })
      const link = await newSetupLink(rt, tenant)
      if (opts.json) print(JSON.stringify({ ...tenant, setupLink: link }))
      else {
        print(`created tenant ${tenant.slug} (${tenant.id})${rt.config.mode === 'multi' ? `: API at /api/t/${tenant.slug}` : ''}`)
        print(`its owner sets it up at (once, within 24 hours): ${link}`)
      }
      return
    }
    if (action === 'list') {
      const all = await fetchAll((page) => listTenants(rt.database.db, page))
      if (opts.json) print(JSON.stringify(all))
      else for (const t of all) print(`${t.slug}\t${t.id}\t${t.name}\t${t.createdAt}`)
      return
    }
    throw new StartupError('tenant: use `tenant create <slug> [--name NAME] [--currency EUR]` or `tenant list`')
  })
}

async function targetTenant(rt: Runtime, slug: string | undefined): Promise<Tenant> {
  if (!slug) {
    if (rt.config.mode === 'multi') throw new StartupError('multi mode needs --tenant <slug>')
    return (await ensureDefaultTenant(rt.database.db, rt.bus, rt.secrets)).tenant
  }
  const tenant = await findTenantBySlug(rt.database.db, slug)
  if (!tenant)
    throw new StartupError(
      `key: no tenant ${slug}${slug === DEFAULT_TENANT_SLUG ? ' (start the server once, or run `partnerd tenant create`)' : ''}`,
    )
  return tenant
}

export async function keyCommand(loaded: LoadedConfig, action: string | undefined, args: string[], opts: CommandOptions, print: Print) {
  await withRuntime(loaded, false, async (rt) => {
    const tenant = await targetTenant(rt, opts.tenant)
    const prefix = rt.config.auth.api_key_prefix
    if (action === 'create') {
      if (!opts.name) throw new StartupError('key create: give --name, e.g. `partnerd key create --name crm --scopes events:write`')
      const scopes = opts.scopes
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
      const minted = await rt.withTenant(tenant.id, (scope) =>
        mintApiKey(scope, prefix, { name: opts.name!, scopes, expiresAt: opts.expiresAt }, { id: 'cli' }),
      )
      if (opts.json) print(JSON.stringify(minted))
      else {
        print(`created API key ${minted.id} "${minted.name}" for tenant ${tenant.slug}, scopes ${minted.scopes.join(',')}`)
        print('the key is shown once; store it now:')
        print(minted.key)
      }
      return
    }
    if (action === 'list') {
      const page = await rt.withTenant(tenant.id, (scope) => listApiKeys(scope, { limit: 200 }))
      if (opts.json) print(JSON.stringify(page.items))
      else
        for (const k of page.items) {
          const state = k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt <= new Date().toISOString() ? 'expired' : 'active'
          print(`${k.id}\t${k.start}…\t${state}\t${k.scopes.join(',')}\t${k.name}\tlast used ${k.lastUsedAt ?? 'never'}`)
        }
      return
    }
    if (action === 'revoke') {
      const id = args[0]
      if (!id) throw new StartupError('key revoke: give the key id (see `partnerd key list`)')
      const revoked = await rt.withTenant(tenant.id, (scope) => revokeApiKey(scope, id, { id: 'cli' }))
      print(opts.json ? JSON.stringify(revoked) : `revoked ${revoked.id} "${revoked.name}"`)
      return
    }
    throw new StartupError('key: use `key create --name NAME [--scopes a,b] [--expires-at ISO]`, `key list` or `key revoke <id>`')
  })
}

/**
 * For container health checks, where no curl exists: asks the server this config describes for /ready.
 * It does not open the database itself; the server's answer is the one that matters.
 */
export async function checkLocalHealth(loaded: LoadedConfig, print: Print): Promise<boolean> {
  const { host, port } = loaded.config.server
  const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host
  try {
    const res = await fetch(`http://${target.includes(':') ? `[${target}]` : target}:${port}/ready`, { signal: AbortSignal.timeout(3000) })
    print(`${res.status} ${await res.text()}`)
    return res.status === 200
  } catch (err) {
    print(`not reachable: ${(err as Error).message}`)
    return false
  }
}

async function newSetupLink(rt: Runtime, tenant: Tenant): Promise<string> {
  const { token } = await rt.withTenant(tenant.id, (scope) => issueSetupToken(scope))
  return accountLink(rt.config.server.public_url, rt.config.mode, tenant.slug, 'setup', token)
}

/** `setup-link`: a fresh one-time setup link, while the organization has no owner. */
export async function setupLinkCommand(loaded: LoadedConfig, opts: CommandOptions, print: Print) {
  await withRuntime(loaded, false, async (rt) => {
    const link = await newSetupLink(rt, await targetTenant(rt, opts.tenant))
    print(opts.json ? JSON.stringify({ setupLink: link }) : link)
  })
}

/**
 * `user create`: an account for a person, with a role in a tenant. The password comes from standard
 * input (never an argument: those show in process lists and shell history) or is generated and
 * printed once. An operator-created account's email counts as verified.
 */
export async function userCommand(
  loaded: LoadedConfig,
  action: string | undefined,
  opts: CommandOptions,
  print: Print,
  readStdin: () => Promise<string>,
) {
  if (action !== 'create')
    throw new StartupError('user: use `user create --email E [--name N] [--role owner] [--tenant SLUG] [--password-stdin]`')
  if (!opts.email) throw new StartupError('user create: give --email')
  await withRuntime(loaded, false, async (rt) => {
    const tenant = await targetTenant(rt, opts.tenant)
    const generated = opts.passwordStdin ? undefined : randomSecret(18)
    const password = generated ?? (await readStdin()).replace(/\r?\n$/, '')
    const role = opts.role ?? 'owner'
    if (!isRole(role)) throw new StartupError(`user create: --role must be one of ${ROLES.join(', ')}`)
    const user = await createUser(rt.database.db, { email: opts.email!, password, name: opts.name, emailVerified: true })
    try {
      // Through the members service, so the addition is audited like one made through the API.
      const operator = { kind: 'admin', id: 'cli', tenantId: null, scopes: ['*'] }
      await rt.withTenant(tenant.id, (scope) => addMember(scope, { email: user.email, role }, operator, { id: 'cli' }))
    } catch (err) {
      await rt.database.db.deleteFrom('users').where('id', '=', user.id).execute() // nothing half-made
      throw err
    }
    if (opts.json) print(JSON.stringify({ ...user, role, tenant: tenant.slug, ...(generated ? { password: generated } : {}) }))
    else {
      print(`created user ${user.id} <${user.email}>, ${role} of ${tenant.slug}`)
      if (generated) print(`password (shown once): ${generated}`)
    }
  })
}

export async function exportCommand(loaded: LoadedConfig, opts: CommandOptions, write: (text: string) => void): Promise<void> {
  await withRuntime(loaded, false, async (rt) => {
    const tenant = await targetTenant(rt, opts.tenant)
    write(`${JSON.stringify(await rt.withTenant(tenant.id, (scope) => exportTenant(scope)))}\n`)
  })
}

export async function importCommand(
  loaded: LoadedConfig,
  opts: CommandOptions,
  print: Print,
  readInput: () => Promise<string>,
): Promise<void> {
  let document: Record<string, unknown>
  try {
    document = JSON.parse(await readInput())
  } catch {
    throw new StartupError('import: standard input is not a JSON document (from `partnerd export`, or OpenPartner’s export.json)')
  }
  await withRuntime(loaded, false, async (rt) => {
    const tenant = await targetTenant(rt, opts.tenant)
    // OpenPartner's bundle (its GET /export.json) comes in the same way: too large for a request, often.
    if (isOpenPartnerBundle(document)) {
      const report = await rt.withTenant(tenant.id, (scope) => importOpenPartnerBundle(scope, document))
      if (opts.json) print(JSON.stringify(report))
      else {
        for (const [table, n] of Object.entries(report.inserted))
          print(`${table}: ${n}${report.skipped[table] ? ` (${report.skipped[table]} known, skipped)` : ''}`)
        for (const [table, n] of Object.entries(report.skipped)) if (!(table in report.inserted)) print(`${table}: 0 (${n} skipped)`)
        for (const note of report.notes) print(`note: ${note}`)
      }
      return
    }
    const counts = await rt.withTenant(tenant.id, (scope) => importTenant(scope, document))
    print(
      opts.json
        ? JSON.stringify(counts)
        : Object.entries(counts)
            .map(([table, n]) => `${table}: ${n}`)
            .join('\n'),
    )
  })
}

/**
 * `secrets rotate`: re-seals every stored secret under secrets.key, so the keys in
 * secrets.previous_keys can be dropped. All or nothing, in one transaction. `secrets generate-key`
 * prints a new key for secrets.key.
 */
export async function secretsCommand(
  loaded: () => LoadedConfig | Promise<LoadedConfig>,
  action: string | undefined,
  opts: CommandOptions,
  print: Print,
) {
  if (action === 'generate-key') {
    print(generateKey())
    return
  }
  if (action !== 'rotate') throw new StartupError('secrets: use `secrets rotate` or `secrets generate-key`')
  await withRuntime(await loaded(), false, async (rt) => {
    const current = rt.secrets.current
    const report = await resealStoredSecrets(rt.database, rt.secrets, (value) => Keyring.kidOf(value) !== current.kid)
    if (opts.json) return print(JSON.stringify(report))
    print(`re-sealed ${report.resealed} of ${report.stored} stored secret(s) under key id ${current.kid} (${current.source})`)
    if (rt.secrets.keys.length > 1)
      print(
        'every stored secret is now under it: empty secrets.previous_keys and restart each instance (after it, codes mailed before the rotation no longer work)',
      )
  })
}

/** `backup <file>`: a consistent copy of the live SQLite database (sqlite-backup.ts); on PostgreSQL, how to make one. */
export function backupCommand(loaded: LoadedConfig, file: string | undefined, print: Print): void {
  if (loaded.config.database.postgres) throw new StartupError(POSTGRES_BACKUP)
  if (!file) throw new StartupError('backup: give the file to write, e.g. `partnerd backup /backups/partnerd-2026-01-31.db`')
  const source = resolveConfigPath(loaded, loaded.config.database.sqlite!.path)
  for (const line of describeBackup(backupSqlite(loaded.config, source, resolve(file)), source)) print(line)
}

/** `restore <file>`: a backup checked and put in place of the SQLite database (restore.ts); on PostgreSQL, how to restore one. */
export async function restoreCommand(loaded: LoadedConfig, file: string | undefined, print: Print): Promise<void> {
  if (loaded.config.database.postgres) throw new StartupError(POSTGRES_RESTORE)
  if (!file) throw new StartupError('restore: give the backup to restore, e.g. `partnerd restore /backups/partnerd-2026-01-31.db`')
  const target = resolveConfigPath(loaded, loaded.config.database.sqlite!.path)
  const source = resolve(file)
  for (const line of describeRestore(await restoreSqlite(loaded, target, source, commandLog(loaded)), source)) print(line)
}
