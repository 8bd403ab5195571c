/**
 * The README's walkthrough (examples/walkthrough.sh) run as a reader runs it: the compiled binary
 * started from a config, the script with its two variables set, curl and sh alone. On SQLite in
 * single mode and on PostgreSQL in multi mode (API and ROUTER under the tenant's slug); it must end
 * with a paid payout, which the test then reads back through the API.
 */
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ROOT, run, serve, stopAll, writeConfig } from './support/binary.ts'
import { databaseSection, secretsSection } from './support/databases.ts'
import { freePort } from './support/ports.ts'

const SCRIPT = join(ROOT, 'examples', 'walkthrough.sh')

describe.each(['sqlite', 'postgres'] as const)('the README walkthrough on %s', (dialect) => {
  afterAll(() => stopAll())

  it('runs as written and ends with a paid payout', async () => {
    const port = await freePort()
    const multi = dialect === 'postgres'
    const adminKey = randomBytes(32).toString('base64url')
    const config = writeConfig({
      server: { host: '127.0.0.1', port, public_url: `http://127.0.0.1:${port}` },
      logging: { level: 'info' },
      database: await databaseSection(dialect),
      secrets: secretsSection(dialect),
      ...(multi ? { mode: 'multi', auth: { admin_api_keys: adminKey } } : {}),
    })
    if (multi) expect(run(['tenant', 'create', 'acme', '--config', config], { ADMIN_API_KEY: adminKey }).code).toBe(0)
    const served = await serve(config, multi ? { ADMIN_API_KEY: adminKey } : {})
    const key = multi ? adminKey : await served.bootstrapKey()
    const api = multi ? `${served.url}/api/t/acme` : `${served.url}/api`
    const env = { ...process.env, API: api, KEY: key, ...(multi ? { ROUTER: `${served.url}/r/acme` } : {}) }

    const result = spawnSync('sh', [SCRIPT], { env, encoding: 'utf8', timeout: 60_000 })
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0)
    const payout = /8\. Payout (pay_\w+) is paid\./.exec(result.stdout)?.[1]
    expect(payout, result.stdout).toBeDefined()
    // 20% of 49.00, in the PayPal file the script printed, and paid when read back.
    expect(result.stdout).toContain(',9.80,USD,')
    const read = await (await fetch(`${api}/payouts/${payout}`, { headers: { authorization: `Bearer ${key}` } })).json()
    expect(read).toMatchObject({ id: payout, status: 'paid', amount: '9.80', currency: 'USD' })
  }, 90_000)
})
