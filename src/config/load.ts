/**
 * Loading partnerd.yaml: parse, interpolate ${ENV} / ${ENV:-default} in string values, apply defaults,
 * coerce strings from the environment to the types the schema wants, validate. Every failure is a
 * StartupError whose message names the key path (`server.port`) so an operator can fix it at once.
 */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, isAbsolute, resolve } from 'node:path'
import { Value } from '@sinclair/typebox/value'
import { parseDocument } from 'yaml'
import defaultConfigText from '../../config.example.yaml' with { type: 'text' }
import { StartupError } from '../errors.ts'
import { type Config, ConfigSchema } from './schema.ts'

export interface LoadedConfig {
  config: Config
  /** Where the config came from, for the start-up log. */
  source: string
  /** Relative paths in the config (SQLite file, plugin files) resolve against this folder. */
  baseDir: string
}

/**
 * Which file to read: `--config`, else $PARTNERD_CONFIG, else ./partnerd.yaml, else the built-in
 * default (the shipped config.example.yaml, so the documented example is always a working config).
 */
export function loadConfig(explicitPath?: string, env: Record<string, string | undefined> = process.env): LoadedConfig {
  const path = explicitPath ?? env.PARTNERD_CONFIG ?? (existsSync('partnerd.yaml') ? 'partnerd.yaml' : undefined)
  if (!path) return { config: parseConfig(defaultConfigText, env), source: 'built-in default', baseDir: process.cwd() }
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new StartupError(`config: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  const absolute = resolve(path)
  return { config: parseConfig(text, env, path), source: absolute, baseDir: dirname(absolute) }
}

export function parseConfig(text: string, env: Record<string, string | undefined> = process.env, file = 'config'): Config {
  const doc = parseDocument(text, { uniqueKeys: true })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!
    const where = e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : ''
    throw new StartupError(
      `config: ${file} is not valid YAML${where}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
    )
  }
  const raw = interpolate(doc.toJS() ?? {}, env, [])
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new StartupError(`config: ${file} must be a mapping of keys at the top level`)
  }
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(raw))
  const converted = Value.Convert(ConfigSchema, withDefaults)
  // Check first: walking the schema for its errors is several times slower, and a valid config has none.
  const first = Value.Check(ConfigSchema, converted) ? undefined : Value.Errors(ConfigSchema, converted).First()
  if (first) throw new StartupError(`config: ${describeSchemaError(first, converted)}`)
  const config = converted as Config
  checkCrossFieldRules(config)
  return config
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

/** Replace ${VAR} and ${VAR:-default} in every string value. Keys are never interpolated. */
function interpolate(value: unknown, env: Record<string, string | undefined>, path: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (_, name: string, fallback: string | undefined) => {
      const found = env[name]
      if (found !== undefined && found !== '') return found
      if (fallback !== undefined) return fallback
      throw new StartupError(`config: ${keyPath(path)}: environment variable ${name} is not set`)
    })
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, [...path, String(i)]))
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env, [...path, k])]))
  }
  return value
}

function describeSchemaError(error: { path: string; message: string; schema: unknown }, root: unknown): string {
  const segments = error.path.split('/').filter(Boolean)
  const at = keyPath(segments)
  const found = valueAt(root, segments)
  if (/unexpected property/i.test(error.message)) return `unknown key ${at}`
  if (found === undefined) return `${at} is required`
  const variants = (error.schema as { anyOf?: Variant[] }).anyOf
  if (variants?.every((v) => v.const !== undefined))
    return `${at} must be one of ${variants.map((v) => v.const).join(', ')} (got ${JSON.stringify(found)})`
  if (variants) return `${at} must be ${variants.map(describeVariant).join(' or ')} (got ${JSON.stringify(found)})`
  return `${at}: ${error.message.toLowerCase()} (got ${JSON.stringify(found)})`
}

interface Variant {
  const?: unknown
  type?: string
  minimum?: number
  maximum?: number
}

/** A union's member in words: `true or false`, `a whole number from 0 to 10`. */
function describeVariant(variant: Variant): string {
  if (variant.type === 'boolean') return 'true or false'
  if (variant.type === 'integer' && variant.minimum !== undefined && variant.maximum !== undefined)
    return `a whole number from ${variant.minimum} to ${variant.maximum}`
  return `a value of type ${variant.type ?? 'unknown'}`
}

function checkCrossFieldRules(config: Config): void {
  const { sqlite, postgres } = config.database
  if (sqlite && postgres) throw new StartupError('config: database: set either database.sqlite or database.postgres, not both')
  if (!postgres) config.database.sqlite ??= Value.Default(ConfigSchema.properties.database.properties.sqlite, {}) as never
  if (config.mail.transport === 'smtp' && !config.mail.smtp_url) {
    throw new StartupError('config: mail.smtp_url is required when mail.transport is smtp')
  }
  for (const [i, entry] of config.plugins.entries()) {
    if (Boolean(entry.builtin) === Boolean(entry.path)) {
      throw new StartupError(`config: plugins.${i}: give exactly one of builtin or path`)
    }
  }
  checkCookieDomain(config)
}

const HOST_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/**
 * tracking.cookie_domain: a browser keeps a cookie with a Domain only when the host that set it is
 * that domain or under it, and never for a bare top-level domain; a value it would drop silently
 * (a typo, a port, another site's domain) stops the start instead.
 */
function checkCookieDomain(config: Config): void {
  const domain = config.tracking.cookie_domain
  if (domain === undefined) return
  if (!HOST_NAME.test(domain)) {
    throw new StartupError(
      `config: tracking.cookie_domain must be a lower-case domain name such as example.com, without scheme, port, path or leading dot (got ${JSON.stringify(domain)})`,
    )
  }
  const host = new URL(config.server.public_url).hostname
  if (host !== domain && !host.endsWith(`.${domain}`)) {
    throw new StartupError(
      `config: tracking.cookie_domain ${domain} does not contain server.public_url's host ${host}: browsers would refuse the cookie the router sets there`,
    )
  }
}

function keyPath(segments: string[]): string {
  return segments.length === 0 ? '(top level)' : segments.join('.')
}

function valueAt(root: unknown, segments: string[]): unknown {
  let node = root
  for (const s of segments) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[s]
  }
  return node
}

/** Resolve a path from the config against the config file's folder. */
export function resolveConfigPath(loaded: LoadedConfig, path: string): string {
  return isAbsolute(path) ? path : resolve(loaded.baseDir, path)
}
