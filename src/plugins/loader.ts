/**
 * Loading plugins at start: built-ins from the static registry, external ones by path with import().
 * Each is checked (shape, name, config against its schema) and set up in config order; any failure
 * stops start-up with one line naming the plugin.
 */
import { existsSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { Migration } from 'kysely/migration'
import { type BuiltinPlugin, builtinPlugins } from '../../plugins/index.ts'
import type { TrackingFacet } from '../attribution/facet.ts'
import { CREDENTIAL_KIND_ID, type CredentialKind } from '../auth/credential-kinds.ts'
import type { IdentityFacet } from '../auth/identity-facet.ts'
import type { AuthStrategy } from '../auth/principal.ts'
import { ALL_SCOPES, SCOPES } from '../auth/scopes.ts'
import type { SignInMethod } from '../auth/sign-in-methods.ts'
import type { TokenIssuers } from '../auth/tokens.ts'
import type { PluginEntry } from '../config/schema.ts'
import type { MigrationSet } from '../db/migrate.ts'
import { isolateTenantRows } from '../db/tenant-isolation.ts'
import type { WithTenant } from '../db/with-tenant.ts'
import type { DomainEventBus, DomainEventHandler } from '../domain-events/bus.ts'
import { AppError, StartupError } from '../errors.ts'
import type { OwnedRoutes } from '../http/route-table.ts'
import type { Logger } from '../log/logger.ts'
import type { Mailer } from '../mail/mailer.ts'
import type { PayoutProvider } from '../payouts/providers.ts'
import type { Keyring } from '../secrets/keyring.ts'
import type { PluginDefinition, PluginHost } from './contract.ts'
import type { ProgramFacet } from './program-facet.ts'

const NAME = /^[a-z][a-z0-9-]{0,39}$/

export interface LoadedPlugins {
  names: { name: string; version: string }[]
  /** Each plugin's routes, named by its owner (`plugin <name>`), for the route table's checks. */
  routes: OwnedRoutes[]
  strategies: AuthStrategy[]
  signInMethods: SignInMethod[]
  credentialKinds: CredentialKind[]
  migrationSets: MigrationSet[]
  payoutProviders: PayoutProvider[]
}

export interface LoaderDeps {
  mode: 'single' | 'multi'
  publicUrl: string
  baseDir: string
  log: Logger
  bus: DomainEventBus
  withTenant: WithTenant
  identity: IdentityFacet
  /** Where the plugin that issues access tokens registers (host.addTokenIssuer). */
  tokens: TokenIssuers
  mail: Mailer
  tracking: TrackingFacet
  program: ProgramFacet
  secrets: Keyring
  registry?: Record<string, BuiltinPlugin>
}

/** The config's entries, after the built-ins that are on by default and not mentioned there. */
function withDefaults(entries: PluginEntry[], registry: Record<string, BuiltinPlugin>): PluginEntry[] {
  const mentioned = new Set(entries.map((e) => e.builtin).filter(Boolean))
  const defaults = Object.entries(registry)
    .filter(([name, p]) => p.enabledByDefault && !mentioned.has(name))
    .map(([name]) => ({ builtin: name, enabled: true }))
  return [...defaults, ...entries]
}

export async function loadPlugins(entries: PluginEntry[], deps: LoaderDeps): Promise<LoadedPlugins> {
  const loaded: LoadedPlugins = {
    names: [],
    routes: [],
    strategies: [],
    signInMethods: [],
    credentialKinds: [],
    migrationSets: [],
    payoutProviders: [],
  }
  const registry = deps.registry ?? builtinPlugins
  const all = withDefaults(entries, registry)
  const defaultCount = all.length - entries.length
  // Subscriptions wait until every plugin has declared its events: one may listen to another's.
  const subscriptions: { label: string; type: string; handler: DomainEventHandler }[] = []
  for (const [position, entry] of all.entries()) {
    if (!entry.enabled) continue
    const index = position - defaultCount // the entry's index in the config's plugins list
    const label = entry.builtin ? `plugin ${entry.builtin}` : `plugin ${entry.path}`
    const plugin = await importPlugin(entry, index, registry, deps.baseDir)
    checkShape(plugin, label)
    if (loaded.names.some((n) => n.name === plugin.name))
      throw new StartupError(`${label}: a plugin named ${plugin.name} is already loaded`)
    const config = validateConfig(plugin, entry.config, label)
    try {
      deps.bus.declare(`plugin ${plugin.name}`, plugin.events ?? {})
    } catch (err) {
      throw new StartupError(`${label}: events: ${(err as Error).message}`)
    }
    const migrations: Record<string, Migration> = {}
    const host: PluginHost = {
      config,
      log: deps.log.child({ plugin: plugin.name }),
      mode: deps.mode,
      publicUrl: deps.publicUrl,
      t: Type,
      scopes: SCOPES,
      AppError,
      routes: (register) => void loaded.routes.push({ owner: label, register }),
      addAuthStrategy: (strategy) => void loaded.strategies.push(strategy),
      addSignInMethod: (method) => {
        if (method.kind !== 'provider' && loaded.signInMethods.some((m) => m.kind === method.kind)) {
          throw new StartupError(`${label}: another plugin already offers ${method.kind} sign-in`)
        }
        loaded.signInMethods.push(method)
      },
      addCredentialKind: (kind) => {
        if (!CREDENTIAL_KIND_ID.test(kind.id))
          throw new StartupError(`${label}: credential kind id ${JSON.stringify(kind.id)} is not lower-case letters, digits and hyphens`)
        if (loaded.credentialKinds.some((k) => k.id === kind.id)) throw new StartupError(`${label}: a credential kind ${kind.id} exists`)
        loaded.credentialKinds.push(kind)
      },
      addTokenIssuer: (issuer) => deps.tokens.add(label, issuer),
      addPayoutProvider: (provider) => {
        if (provider.name === 'manual' || loaded.payoutProviders.some((p) => p.name === provider.name)) {
          throw new StartupError(`${label}: a payout provider named ${provider.name} exists`)
        }
        loaded.payoutProviders.push(provider)
      },
      on: (type, handler) => void subscriptions.push({ label, type, handler }),
      migrations: (set) => void Object.assign(migrations, set),
      isolateTenantRows,
      withTenant: (tenantId, fn) => deps.withTenant(tenantId, fn),
      identity: deps.identity,
      mail: deps.mail,
      tracking: deps.tracking,
      program: deps.program,
      secrets: {
        digest: (value) => deps.secrets.digest(`plugin ${plugin.name}`, value),
        matches: (value, digest) => deps.secrets.digestMatches(`plugin ${plugin.name}`, value, digest),
      },
      asPlugin: (tenant) => ({
        tenant,
        principal: { kind: 'plugin', id: `plugin:${plugin.name}`, tenantId: tenant.id, scopes: [ALL_SCOPES] },
      }),
    }
    try {
      await plugin.setup(host)
    } catch (err) {
      throw new StartupError(`${label}: setup failed: ${(err as Error).message}`)
    }
    if (Object.keys(migrations).length > 0) loaded.migrationSets.push({ owner: `plugin-${plugin.name}`, migrations })
    loaded.names.push({ name: plugin.name, version: plugin.version })
  }
  for (const { label, type, handler } of subscriptions) {
    if (type !== '*' && !deps.bus.isKnown(type)) {
      const near = deps.bus
        .types()
        .map((t) => t.type)
        .filter((t) => t.split('.')[0] === type.split('.')[0])
      throw new StartupError(
        `${label}: on(${JSON.stringify(type)}): no such event type${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}`,
      )
    }
    deps.bus.subscribe(type, handler)
  }
  return loaded
}

async function importPlugin(
  entry: PluginEntry,
  index: number,
  registry: Record<string, BuiltinPlugin>,
  baseDir: string,
): Promise<PluginDefinition> {
  if (entry.builtin) {
    const load = registry[entry.builtin]?.load
    if (!load) {
      const known = Object.keys(registry).join(', ') || 'none'
      throw new StartupError(`plugins.${index}.builtin: no built-in plugin ${entry.builtin} (available: ${known})`)
    }
    return (await load()).default
  }
  const path = isAbsolute(entry.path!) ? entry.path! : resolve(baseDir, entry.path!)
  if (!existsSync(path)) throw new StartupError(`plugins.${index}.path: ${path} does not exist`)
  try {
    const mod = (await import(path)) as { default?: PluginDefinition }
    if (!mod.default) throw new Error('the file has no default export')
    return mod.default
  } catch (err) {
    throw new StartupError(`plugin ${entry.path}: cannot load: ${(err as Error).message.split('\n')[0]}`)
  }
}

function checkShape(plugin: PluginDefinition, label: string): void {
  if (typeof plugin !== 'object' || plugin === null) throw new StartupError(`${label}: the default export is not a plugin object`)
  if (typeof plugin.name !== 'string' || !NAME.test(plugin.name)) {
    throw new StartupError(`${label}: name must be lower-case letters, digits and hyphens (got ${JSON.stringify(plugin.name)})`)
  }
  if (typeof plugin.version !== 'string' || !plugin.version) throw new StartupError(`plugin ${plugin.name}: version is missing`)
  if (typeof plugin.setup !== 'function') throw new StartupError(`plugin ${plugin.name}: setup is not a function`)
}

function validateConfig(plugin: PluginDefinition, raw: unknown, label: string): unknown {
  if (!plugin.config) {
    if (raw !== undefined) throw new StartupError(`plugin ${plugin.name}: takes no config, but config was given`)
    return {}
  }
  const schema = typeof plugin.config === 'function' ? plugin.config(Type) : plugin.config
  const value = Value.Convert(schema, Value.Default(schema, Value.Clone(raw ?? {})))
  const error = Value.Errors(schema, value).First()
  if (error) {
    const key = ['config', ...error.path.split('/').filter(Boolean)].join('.')
    const message = /unexpected property/i.test(error.message) ? 'unknown key' : error.message.toLowerCase()
    throw new StartupError(`plugin ${plugin.name} (${label.replace(/^plugin /, '')}): ${key}: ${message}`)
  }
  return value
}
