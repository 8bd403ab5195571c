/**
 * Every database-touching suite runs on both databases: `describe.each(DIALECTS)`. On SQLite a temp
 * file, on PostgreSQL a fresh database per call, migrated as its owner and served as the
 * non-superuser role, exactly as production should be set up.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { inject } from 'vitest'
import { stringify } from 'yaml'
import { type LoadedConfig, parseConfig } from '../../src/config/load.ts'
import type { Dialect } from '../../src/db/database.ts'
import { APP_ROLE, APP_ROLE_PASSWORD } from './pg-roles.ts'

export const DIALECTS: Dialect[] = ['sqlite', 'postgres']

/**
 * The sealing key (secrets.key) of the PostgreSQL test configs, where it is required; one for all, as
 * instances sharing a database share it. SQLite tests leave it unset and so use the generated key file.
 */
export const TEST_SECRET_KEY = 'AhIPNK98RnifcpVRTgMJmGQIPVELPLTz4pJF9/qBh8I='

/** The `secrets` section for a dialect. */
export function secretsSection(dialect: Dialect): Record<string, string> {
  return dialect === 'postgres' ? { key: TEST_SECRET_KEY } : {}
}

export function tempDir(): string {
  return mkdtempSync(join(inject('scratchRoot'), 'case-'))
}

/** A fresh PostgreSQL database; returns the owner (superuser) and serving-role URLs. */
export async function freshPostgresDatabase(): Promise<{ ownerUrl: string; servingUrl: string; name: string }> {
  const admin = new URL(inject('pgAdminUrl'))
  const name = `t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const client = new pg.Client({ connectionString: admin.toString() })
  await client.connect()
  await client.query(`create database ${name}`)
  await client.end()
  markPostgresUsed()
  const owner = new URL(admin)
  owner.pathname = `/${name}`
  const serving = new URL(owner)
  serving.username = APP_ROLE
  serving.password = APP_ROLE_PASSWORD
  return { ownerUrl: owner.toString(), servingUrl: serving.toString(), name }
}

/** .ci/run checks this marker: a green run must have run the PostgreSQL suites. */
function markPostgresUsed(): void {
  const dir = join(process.cwd(), '.test-data')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'postgres-used'), new Date().toISOString())
}

/** The `database` section for a dialect, on fresh storage. */
export async function databaseSection(dialect: Dialect): Promise<Record<string, unknown>> {
  if (dialect === 'sqlite') return { sqlite: { path: join(tempDir(), 'partnerd.db') } }
  const { ownerUrl, servingUrl } = await freshPostgresDatabase()
  return { postgres: { url: servingUrl, migration_url: ownerUrl, pool_size: 4 } }
}

/** A full config on fresh storage, as partnerd would load it from a file. */
export async function testConfig(dialect: Dialect, overrides: Record<string, unknown> = {}): Promise<LoadedConfig> {
  const raw = {
    server: { host: '127.0.0.1', port: 0 },
    logging: { level: 'silent' },
    ...overrides,
    database: { ...(await databaseSection(dialect)), ...((overrides.database as object) ?? {}) },
    secrets: { ...secretsSection(dialect), ...((overrides.secrets as object) ?? {}) },
  }
  const baseDir = tempDir()
  const text = stringify(raw)
  writeFileSync(join(baseDir, 'partnerd.yaml'), text)
  return { config: parseConfig(text, {}), source: join(baseDir, 'partnerd.yaml'), baseDir }
}
