/**
 * partnerd: the command line. `serve` (the default) runs the server; the other commands are for
 * operators. Every failure prints one line naming its cause and exits non-zero.
 */
import { parseArgs } from 'node:util'
import type { LoadedConfig } from '../config/load.ts'
import { AppError, StartupError } from '../errors.ts'
import { VERSION } from '../version.ts'

// Each command's code is imported when that command runs, not before: the binary is built with code
// splitting, so `--version` reads almost nothing and `serve` never reads the operator commands (nor
// they the HTTP server). Module evaluation is most of a start.
const commands = () => import('./commands.ts')
const readConfig = async (path: string | undefined): Promise<LoadedConfig> => (await import('../config/load.ts')).loadConfig(path)

const USAGE = `partnerd ${VERSION}: a self-hostable partner program server

Usage: partnerd [command] [--config FILE]

Commands:
  serve                              run the server (default)
  migrate                            apply pending database migrations
  tenant create <slug> [--name N] [--currency C]
                                     create a tenant (multi mode: its API is /api/t/<slug>);
                                     --currency: its default currency, ISO 4217 (default USD)
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
      currency: { type: 'string' },
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
    currency: values.currency,
    scopes: values.scopes,
    expiresAt: values['expires-at'],
    email: values.email,
    role: values.role,
    passwordStdin: values['password-stdin'],
  }

  switch (command) {
    case 'serve':
      await (await import('./serve.ts')).serveCommand(await readConfig(values.config))
      return -1 // keep running
    case 'health':
      return (await (await commands()).checkLocalHealth(await readConfig(values.config), print)) ? 0 : 1
    case 'migrate':
      await (await commands()).migrateCommand(await readConfig(values.config), print)
      return 0
    case 'tenant':
      await (await commands()).tenantCommand(await readConfig(values.config), action, rest, options, print)
      return 0
    case 'setup-link':
      await (await commands()).setupLinkCommand(await readConfig(values.config), options, print)
      return 0
    case 'user':
      await (await commands()).userCommand(await readConfig(values.config), action, options, print, () => Bun.stdin.text())
      return 0
    case 'key':
      await (await commands()).keyCommand(await readConfig(values.config), action, rest, options, print)
      return 0
    case 'export':
      await (await commands()).exportCommand(await readConfig(values.config), options, (text) => process.stdout.write(text))
      return 0
    case 'import':
      await (await commands()).importCommand(await readConfig(values.config), options, print, () => Bun.stdin.text())
      return 0
    case 'backup':
      ;(await commands()).backupCommand(await readConfig(values.config), action, print)
      return 0
    case 'restore':
      await (await commands()).restoreCommand(await readConfig(values.config), action, print)
      return 0
    case 'secrets':
      await (await commands()).secretsCommand(() => readConfig(values.config), action, options, print)
      return 0
    default:
      process.stderr.write(`partnerd: unknown command ${command}\n\n${USAGE}`)
      return 2
  }
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
