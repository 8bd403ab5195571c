/**
 * partnerd: the command line. `serve` (the default) runs the server; the other commands are for
 * operators. Every failure prints one line naming its cause and exits non-zero.
 */
import { parseArgs } from 'node:util'
import { loadConfig } from '../config/load.ts'
import { AppError, StartupError } from '../errors.ts'
import { openRuntime } from '../runtime.ts'
import { startServer } from '../server.ts'
import { VERSION } from '../version.ts'
import {
  backupCommand,
  checkLocalHealth,
  exportCommand,
  importCommand,
  keyCommand,
  migrateCommand,
  restoreCommand,
  secretsCommand,
  setupLinkCommand,
  tenantCommand,
  userCommand,
} from './commands.ts'

const USAGE = `partnerd ${VERSION}: a self-hostable partner program server

Usage: partnerd [command] [--config FILE]

Commands:
  serve                              run the server (default)
  migrate                            apply pending database migrations
  tenant create <slug> [--name N]    create a tenant (multi mode: its API is /api/t/<slug>)
  tenant list                        list tenants
  key create --name N [--scopes a,b] [--expires-at ISO] [--tenant SLUG]
                                     mint an API key (printed once; scopes default to *, admin)
  key list [--tenant SLUG]           list API keys (never the keys themselves)
  key revoke <id> [--tenant SLUG]    revoke an API key
  setup-link [--tenant SLUG]         print a new one-time link that makes the organization's first owner
  user create --email E [--name N] [--role owner|admin|member|viewer] [--tenant SLUG] [--password-stdin]
                                     create a person's account (password generated and shown once,
                                     or read from standard input)
  export [--tenant SLUG]             write the tenant's partner-program data as JSON to standard output
  import [--tenant SLUG]             load such a document from standard input into an empty tenant
                                     (or an OpenPartner export.json bundle: rows already there are skipped)
  backup <file>                      SQLite: write a consistent copy of the database while the server runs,
                                     and its key file beside it as <file>.key (without secrets.key)
                                     PostgreSQL: says how (pg_dump, WAL archiving)
  restore <file>                     SQLite, server stopped: check a backup (integrity, migrations, key)
                                     and put it in place; the replaced database is kept beside it
                                     PostgreSQL: says how (pg_restore, point-in-time recovery)
  secrets rotate                     re-seal every stored secret under secrets.key, so that the keys
                                     in secrets.previous_keys can be dropped
  secrets generate-key               print a new random key for secrets.key
  health                             exit 0 when the local server answers /ready (container health checks)

Options:
  -c, --config FILE   config file (default: $PARTNERD_CONFIG, ./partnerd.yaml, else built-in defaults)
      --json          print results as JSON
  -h, --help          show this help
  -v, --version       print the version
`

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
      json: { type: 'boolean' },
      tenant: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      'expires-at': { type: 'string' },
      email: { type: 'string' },
      role: { type: 'string' },
      'password-stdin': { type: 'boolean' },
    },
  })
  if (values.help) {
    process.stdout.write(USAGE)
    return 0
  }
  if (values.version) {
    console.log(VERSION)
    return 0
  }
  const [command = 'serve', action, ...rest] = positionals
  const print = (line: string) => console.log(line)
  const options = {
    json: Boolean(values.json),
    tenant: values.tenant,
    name: values.name,
    scopes: values.scopes,
    expiresAt: values['expires-at'],
    email: values.email,
    role: values.role,
    passwordStdin: values['password-stdin'],
  }

  switch (command) {
    case 'serve': {
      const loaded = loadConfig(values.config)
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
      return -1 // keep running
    }
    case 'health':
      return (await checkLocalHealth(loadConfig(values.config), print)) ? 0 : 1
    case 'migrate':
      await migrateCommand(loadConfig(values.config), print)
      return 0
    case 'tenant':
      await tenantCommand(loadConfig(values.config), action, rest, options, print)
      return 0
    case 'setup-link':
      await setupLinkCommand(loadConfig(values.config), options, print)
      return 0
    case 'user':
      await userCommand(loadConfig(values.config), action, options, print, () => Bun.stdin.text())
      return 0
    case 'key':
      await keyCommand(loadConfig(values.config), action, rest, options, print)
      return 0
    case 'export':
      await exportCommand(loadConfig(values.config), options, (text) => process.stdout.write(text))
      return 0
    case 'import':
      await importCommand(loadConfig(values.config), options, print, () => Bun.stdin.text())
      return 0
    case 'backup':
      backupCommand(loadConfig(values.config), action, print)
      return 0
    case 'restore':
      await restoreCommand(loadConfig(values.config), action, print)
      return 0
    case 'secrets':
      await secretsCommand(() => loadConfig(values.config), action, options, print)
      return 0
    default:
      process.stderr.write(`partnerd: unknown command ${command}\n\n${USAGE}`)
      return 2
  }
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

/** Runs the command in `argv` and exits with its code; `serve` keeps the process running. */
export function runCommandLine(argv: string[]): void {
  main(argv).then(
    (code) => {
      if (code >= 0) process.exit(code)
    },
    (err) => {
      const known = err instanceof StartupError || err instanceof AppError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      process.stderr.write(`partnerd: ${known ? (err as Error).message : (err as Error).stack}\n`)
      process.exit(1)
    },
  )
}
