/**
 * Everything a running partnerd holds, opened in the order that fails fastest and clearest: config,
 * logger, admin keys, secret keys, database, sealing key ring, plugins, schema, stored secrets. The
 * server and the CLI commands share it.
 */
import { sql } from 'kysely'
import type { BuiltinPlugin } from '../plugins/index.ts'
import { trackingFacet } from './attribution/facet.ts'
import { parseAdminKeys } from './auth/admin-keys.ts'
import { type IdentityFacet, identityFacet } from './auth/identity-facet.ts'
import { TokenIssuers } from './auth/tokens.ts'
import { type LoadedConfig, resolveConfigPath } from './config/load.ts'
import type { Config } from './config/schema.ts'
import { createDatabase, type Database } from './db/database.ts'
import { type GroupCommitOptions, ONE_BATCH_AT_A_TIME } from './db/group-commit.ts'
import { assertSchemaCurrent, coreMigrationSet, grantServingRole, type MigrationSet, migrate } from './db/migrate.ts'
import { tenantRunner, type WithTenant } from './db/with-tenant.ts'
import { DomainEventBus } from './domain-events/bus.ts'
import { StartupError } from './errors.ts'
import { type AccessLog, createAccessLog } from './log/access-log.ts'
import { createLogger, type Logger } from './log/logger.ts'
import { createMailer, type Mailer } from './mail/mailer.ts'
import { type LoadedPlugins, loadPlugins } from './plugins/loader.ts'
import { programFacet } from './plugins/program-facet.ts'
import { ProgramTermsCache } from './programs/terms.ts'
import type { Keyring } from './secrets/keyring.ts'
import { configuredKeys, openKeyring } from './secrets/keys.ts'
import { checkStoredSecrets, sealNotedPlaintext } from './secrets/stored.ts'
import { enqueueDeliveries } from './webhooks/outbox.ts'

export interface Runtime {
  loaded: LoadedConfig
  config: Config
  log: Logger
  /** The access log a server writes, unless logging.access turns it off (log/access-log.ts). */
  accessLog: AccessLog | undefined
  adminKeys: string[]
  database: Database
  /** Seals and opens the stored secrets (secrets.key, or the SQLite key file). */
  secrets: Keyring
  bus: DomainEventBus
  withTenant: WithTenant
  /** Programs' terms as events read them, remembered (programs/terms.ts). */
  programTerms: ProgramTermsCache
  /** What sign-in plugins and the sign-in pages share: limits, audit, sessions and their cookie. */
  identity: IdentityFacet
  /** Outgoing mail (config `mail`). */
  mail: Mailer
  plugins: LoadedPlugins
  migrationSets: MigrationSet[]
  close(): Promise<void>
}

export interface RuntimeOptions {
  /** Apply pending migrations (else refuse to run on a schema that is not current). */
  migrate: boolean
  /**
   * Only look at the database (restore's checks of a copy): no migration, no schema check, no key
   * file generated, nothing sealed. Such a runtime serves nothing.
   */
  inspectOnly?: boolean
  log?: Logger
  /** Tests read the access log's lines. */
  accessLog?: AccessLog
  /** Tests inject a registry of built-in plugins. */
  pluginRegistry?: Record<string, BuiltinPlugin>
}

export async function openRuntime(loaded: LoadedConfig, options: RuntimeOptions): Promise<Runtime> {
  const { config } = loaded
  const log = options.log ?? createLogger(config.logging)
  const adminKeys = parseAdminKeys(config.auth.admin_api_keys)
  configuredKeys(config) // a bad or missing secrets.key fails here, before any connection
  const target = {
    database: config.database,
    sqlitePath: config.database.sqlite && resolveConfigPath(loaded, config.database.sqlite.path),
  }
  const database = await createDatabase({ ...target, role: 'serving' })
  try {
    const inspectOnly = options.inspectOnly === true
    const opened = await openKeyring(config, database, target.sqlitePath, { create: !inspectOnly })
    if (opened.generated) log.info({ keyFile: opened.keyFile }, 'generated the key that seals stored secrets; back it up with the database')
    if (opened.warning) log.warn(opened.warning)
    const secrets = opened.keyring
    const bus = new DomainEventBus(log)
    const withTenant = tenantRunner(database, bus, secrets, {
      beforeCommit: enqueueDeliveries,
      group: groupCommitOptions(config),
      onConflict: (err, retry) =>
        log.info({ code: (err as { code?: string }).code, retry }, 'a transaction lost to a concurrent one and runs again'),
    })
    const tokens = new TokenIssuers()
    const identity = identityFacet(config, database, withTenant, tokens)
    const programTerms = new ProgramTermsCache(bus)
    const mail = createMailer(config.mail, (path) => resolveConfigPath(loaded, path))
    const plugins = await loadPlugins(config.plugins, {
      mode: config.mode,
      publicUrl: config.server.public_url,
      baseDir: loaded.baseDir,
      log,
      bus,
      withTenant,
      identity,
      tokens,
      mail,
      tracking: trackingFacet(withTenant, programTerms),
      program: programFacet(withTenant, config.webhooks.allow_hosts),
      secrets,
      registry: options.pluginRegistry,
    })
    const migrationSets = [coreMigrationSet, ...plugins.migrationSets]
    if (!inspectOnly) {
      if (options.migrate) {
        const applied = await applyMigrations(target, database, migrationSets)
        if (applied.length > 0) log.info({ applied }, 'migrations applied')
      } else {
        await assertSchemaCurrent(database, migrationSets)
      }
      if (database.dialect === 'postgres') await checkServingRole(database, config, log)
      // After the migrations: the key must open what is stored, and what an older partnerd left in plaintext is sealed.
      await checkStoredSecrets(database, secrets)
      const sealed = await sealNotedPlaintext(database, secrets)
      if (sealed?.resealed) log.info({ sealed: sealed.resealed, kid: sealed.kid }, 'sealed the secrets stored in plaintext')
    }
    return {
      loaded,
      config,
      log,
      accessLog: options.accessLog ?? createAccessLog(config.logging),
      adminKeys,
      database,
      secrets,
      bus,
      withTenant,
      programTerms,
      identity,
      mail,
      plugins,
      migrationSets,
      close: () => database.close(),
    }
  } catch (err) {
    await database.close().catch(() => {})
    throw err
  }
}

/**
 * How events arriving together share commits (db/group-commit.ts). SQLite has one connection: one
 * batch at a time, gathering what arrives while it commits. On PostgreSQL a batch's time is mostly
 * round trips and its commit's WAL flush, so several run at once; each holds a pooled connection until
 * it commits, so together they take half the pool at most and leave the rest to every other request.
 */
function groupCommitOptions(config: Config): GroupCommitOptions {
  const pool = config.database.postgres?.pool_size
  return { ...ONE_BATCH_AT_A_TIME, concurrency: pool === undefined ? 1 : Math.max(1, Math.floor(pool / 2)) }
}

/** Migrates as the schema owner (database.postgres.migration_url) when one is configured, then grants the serving role. */
export async function applyMigrations(
  target: Omit<Parameters<typeof createDatabase>[0], 'role'>,
  serving: Database,
  sets: MigrationSet[],
): Promise<string[]> {
  const pgSettings = target.database.postgres
  if (!pgSettings?.migration_url) return migrate(serving, sets)
  const owner = await createDatabase({ ...target, role: 'owner' })
  try {
    const applied = await migrate(owner, sets)
    const servingRole = decodeURIComponent(new URL(pgSettings.url).username)
    const ownerRole = decodeURIComponent(new URL(pgSettings.migration_url).username)
    if (servingRole && servingRole !== ownerRole) await grantServingRole(owner, servingRole)
    return applied
  } finally {
    await owner.close()
  }
}

/**
 * Row-level security is the second wall between tenants, and a superuser or a BYPASSRLS role walks
 * through it. Multi mode refuses such a role; single mode (one tenant) only warns.
 */
async function checkServingRole(database: Database, config: Config, log: Logger): Promise<void> {
  const { rows } = await sql<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean }>`
    select rolname, rolsuper, rolbypassrls from pg_roles where rolname = current_user`.execute(database.db)
  const role = rows[0]
  if (!role || !(role.rolsuper || role.rolbypassrls)) return
  const why = `database.postgres.url: role ${role.rolname} is ${role.rolsuper ? 'a superuser' : 'allowed BYPASSRLS'}, so row-level security would not isolate tenants`
  if (config.mode === 'multi') {
    throw new StartupError(`${why}; serve as a role without it and migrate with database.postgres.migration_url (see README)`)
  }
  log.warn(why)
}
