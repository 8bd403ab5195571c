/**
 * `partnerd serve`: opens the runtime, starts the HTTP server, prints what a first start made (the
 * admin key, the setup link) once, and stops cleanly on SIGINT or SIGTERM.
 */
import type { LoadedConfig } from '../config/load.ts'
import { openRuntime } from '../runtime.ts'
import { startServer } from '../server.ts'

export async function serveCommand(loaded: LoadedConfig): Promise<void> {
  const runtime = await openRuntime(loaded, { migrate: loaded.config.database.auto_migrate })
  const server = await startServer(runtime)
  if (server.bootstrapKey) announceBootstrapKey(server.bootstrapKey)
  if (server.setupLink) announceSetupLink(server.setupLink)
  const shutdown = async (signal: string) => {
    runtime.log.info({ signal }, 'shutting down')
    await server.stop()
    await runtime.close()
    process.exit(0)
  }
  process.once('SIGINT', () => void shutdown('SIGINT'))
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
}

function announceBootstrapKey(key: string): void {
  process.stderr.write(`
  An admin API key was created for this new database. It is shown only this once:

      ${key}

  Send it as "Authorization: Bearer <key>". Mint more with \`partnerd key create\`.

`)
}

function announceSetupLink(link: string): void {
  process.stderr.write(`
  Open this link to set up the console and become its owner (it works once, for 24 hours):

      ${link}

  Lost it? \`partnerd setup-link\` prints a new one while nobody owns the organization.

`)
}
