/**
 * `partnerd backup` and `restore`, driven through the compiled binary as an operator would. A backup
 * taken while clicks flow through the router holds every click answered before it began, and the
 * copy, restored elsewhere with its key file, serves again: the same data, the same API key, webhook
 * secrets that still sign. Restore refuses, leaving the database as it was, while a server has it
 * open, and for a damaged file, a newer schema, or a backup without its key. On PostgreSQL both
 * commands say how to use PostgreSQL's own tools.
 */

import { Database } from 'bun:sqlite'
import { createHash } from 'node:crypto'
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { Webhook as StandardWebhook } from 'standardwebhooks'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { BINARY, run, runAsync, serve, stop, stopAll, writeConfig } from './support/binary.ts'
import { TEST_SECRET_KEY, tempDir } from './support/databases.ts'
import { startReceiver } from './support/receiver.ts'
import { until } from './support/until.ts'

/** Bounds of the click traffic: whichever comes first. */
const MAX_CLICKS = 6000
const MAX_TRAFFIC_MS = 20_000
const VISITORS = 8

beforeAll(() => {
  if (!existsSync(BINARY)) throw new Error(`${BINARY} is missing: the global setup builds it`)
})
afterEach(stopAll)

function sqliteConfig(dir: string, dbPath = join(dir, 'data', 'partnerd.db')) {
  return writeConfig(
    {
      server: { host: '127.0.0.1', port: 0 },
      database: { sqlite: { path: dbPath } },
      logging: { level: 'info' },
      // Every click comes from 127.0.0.1: lift the per-address limits off the router.
      tracking: { max_per_minute: 10_000_000, velocity_per_minute: 10_000_000 },
      webhooks: { allow_hosts: ['127.0.0.1'], poll_interval_ms: 50 },
    },
    dir,
  )
}

function client(url: string, key: string) {
  return async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    })
    const data = await res.json()
    expect(res.status, `${method} ${path}: ${JSON.stringify(data)}`).toBeLessThan(300)
    return data
  }
}

const fileHash = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

/** Every row of every table, for comparing two databases by what they hold (a file's header changes when it is opened). */
function contentOf(path: string): string {
  const db = new Database(path, { readonly: true })
  try {
    const tables = db.query("select name from sqlite_master where type = 'table' order by name").all() as { name: string }[]
    return JSON.stringify(tables.map(({ name }) => [name, db.query(`select * from "${name}"`).all()]))
  } finally {
    db.close()
  }
}

/** A program, a partner and its link; a webhook endpoint on the receiver. */
async function seed(api: ReturnType<typeof client>, receiverUrl: string) {
  const program = await api('POST', '/programs', {
    name: 'Backups',
    currency: 'EUR',
    status: 'active',
    destinationUrl: 'https://shop.example.com/',
    rules: [{ on: 'sale', percent: '10' }],
  })
  const partner = await api('POST', '/partners', { email: 'backup@partners.example' })
  const link = await api('POST', '/links', { partnerId: partner.id, programId: program.id })
  const endpoint = await api('POST', '/webhooks', { url: receiverUrl, events: ['webhook.test'] })
  return { link, endpoint }
}

describe('partnerd backup and restore on SQLite', () => {
  it('copies the live database while clicks flow; restored elsewhere, it has every click answered before the backup began', async () => {
    const receiver = startReceiver()
    try {
      const dir = tempDir()
      const served = await serve(sqliteConfig(dir))
      const adminKey = await served.bootstrapKey()
      const { link, endpoint } = await seed(client(served.url, adminKey), receiver.url)

      // A long reader (a report, say) holds a snapshot from before the clicks, so checkpoints cannot
      // move them into the database file: they are in the write-ahead log only, where the backup must read them.
      const reader = new Database(join(dir, 'data', 'partnerd.db'), { readonly: true })
      reader.exec('begin')
      reader.query('select count(*) from clicks').get()

      // Visitors click the link, bounded in count and time; each answered click is noted with when its 302 came.
      const answered: { id: string; at: number }[] = []
      let refused = 0
      let stopping = false
      const trafficEnds = Date.now() + MAX_TRAFFIC_MS
      const visitor = async () => {
        while (!stopping && answered.length + refused < MAX_CLICKS && Date.now() < trafficEnds) {
          const res = await fetch(`${served.url}/r/${link.key}`, { redirect: 'manual' })
          if (res.status === 302)
            answered.push({ id: new URL(res.headers.get('location')!).searchParams.get('cref')!, at: performance.now() })
          else refused++
        }
      }
      const visitors = Array.from({ length: VISITORS }, visitor)
      await until('clicks flowing', () => answered.length >= 300)

      const backupFile = join(dir, 'backups', 'partnerd-copy.db')
      mkdirSync(join(dir, 'backups'))
      const began = performance.now()
      const backup = await runAsync(['backup', backupFile, '--config', join(dir, 'partnerd.yaml')])
      const ended = performance.now()
      await new Promise((r) => setTimeout(r, 200)) // and a little after
      stopping = true
      await Promise.all(visitors)
      reader.exec('rollback')
      reader.close()
      await stop(served.proc)

      expect(backup.code, backup.stderr).toBe(0)
      expect(backup.stdout).toContain(`backed up ${join(dir, 'data', 'partnerd.db')} to ${backupFile}`)
      expect(backup.stdout).toContain(`sealed with the key in ${backupFile}.key, copied beside it (mode 0600)`)
      expect(statSync(`${backupFile}.key`).mode & 0o777).toBe(0o600)
      expect(readFileSync(`${backupFile}.key`, 'utf8')).toBe(readFileSync(join(dir, 'data', 'partnerd.db.key'), 'utf8'))
      expect(refused).toBe(0)
      const beforeBackup = answered.filter((c) => c.at < began)
      const whileBackingUp = answered.filter((c) => c.at >= began && c.at <= ended)
      expect(beforeBackup.length).toBeGreaterThanOrEqual(300)
      expect(whileBackingUp.length, 'clicks answered while the backup ran').toBeGreaterThan(0)

      // Restored into a new location, served by a new process.
      const elsewhere = tempDir()
      const config = sqliteConfig(elsewhere, join(elsewhere, 'restored', 'partnerd.db'))
      const restored = run(['restore', backupFile, '--config', config])
      expect(restored.code, restored.stderr).toBe(0)
      expect(restored.stdout).toContain(`restored ${backupFile} to ${join(elsewhere, 'restored', 'partnerd.db')}`)
      expect(restored.stdout).toContain(`the backup's key file is in place as ${join(elsewhere, 'restored', 'partnerd.db.key')}`)
      const again = await serve(config)
      const api = client(again.url, adminKey) // the API key is in the copy
      const exported = await api('GET', '/export')
      const stored = new Set((exported.clicks as { id: string }[]).map((c) => c.id))
      expect(beforeBackup.filter((c) => !stored.has(c.id))).toEqual([])
      expect(stored.size).toBeLessThanOrEqual(answered.length)
      expect(new Set(answered.map((c) => c.id)).size).toBe(answered.length)

      // The key came along: the endpoint's secret still opens and signs what the standardwebhooks library verifies.
      await api('POST', `/webhooks/${endpoint.id}/test`)
      const delivery = await until('the test delivery', () => receiver.received.find((r) => r.headers['webhook-signature']))
      expect(() => new StandardWebhook(endpoint.secret).verify(delivery.body, delivery.headers)).not.toThrow()
    } finally {
      receiver.stop()
    }
  })

  it('refuses to restore, leaving the database as it was: a running server, a damaged file, a newer schema, a backup without its key', async () => {
    const dir = tempDir()
    const config = sqliteConfig(dir)
    const target = join(dir, 'data', 'partnerd.db')
    const served = await serve(config)
    const backupFile = join(dir, 'copy.db')
    expect(run(['backup', backupFile, '--config', config]).code).toBe(0)
    expect(run(['backup', backupFile, '--config', config]).stderr).toMatch(
      /^partnerd: backup: .*copy\.db exists; give the name of a new file/,
    )

    const whileServing = run(['restore', backupFile, '--config', config])
    expect(whileServing.code).toBe(1)
    expect(whileServing.stderr).toMatch(
      new RegExp(`^partnerd: restore: ${target} is open in process ${served.proc.pid} \\(.*partnerd serve .*\\); stop the server`),
    )
    await stop(served.proc)
    const untouched = fileHash(target)

    const damaged = join(dir, 'damaged.db')
    copyFileSync(backupFile, damaged)
    const fd = openSync(damaged, 'r+')
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 4096 * 3) // a page of garbage
    closeSync(fd)
    const notDatabase = join(dir, 'notes.txt')
    writeFileSync(notDatabase, 'not a database, just some notes\n'.repeat(200))
    const newer = join(dir, 'newer.db')
    copyFileSync(backupFile, newer)
    const db = new Database(newer)
    db.query('insert into partnerd_migrations (name, timestamp) values (?, ?)').run('9999_from_the_future', new Date().toISOString())
    db.close()
    const keyless = join(dir, 'keyless.db')
    copyFileSync(backupFile, keyless)

    const elsewhere = tempDir()
    const cases: [string, string, RegExp][] = [
      [damaged, config, /^partnerd: restore: .*damaged\.db fails SQLite's integrity check/],
      [notDatabase, config, /^partnerd: .*notes\.txt is not a SQLite database partnerd can read/],
      [
        newer,
        config,
        /^partnerd: restore: .*newer\.db cannot be restored by this partnerd: its core schema is newer than this partnerd \(it has migration 9999_from_the_future\)/,
      ],
      // Into a new place, where no key file waits either.
      [
        keyless,
        sqliteConfig(elsewhere),
        /^partnerd: secrets\.key: not configured, and there is no key file beside the backup \(.*keyless\.db\.key\)/,
      ],
      [join(dir, 'missing.db'), config, /^partnerd: restore: there is no file .*missing\.db/],
    ]
    for (const [file, cfg, message] of cases) {
      const r = run(['restore', file, '--config', cfg])
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1)
      expect(r.stderr).toMatch(message)
    }
    expect(fileHash(target)).toBe(untouched)
    expect(existsSync(join(elsewhere, 'data', 'partnerd.db'))).toBe(false)

    // Stopped, a good backup goes in, and the database it replaces is kept.
    const ok = run(['restore', backupFile, '--config', config])
    expect(ok.code, ok.stderr).toBe(0)
    const kept = ok.stdout.match(/the database it replaced is kept as (\S+)/)![1]!
    expect(fileHash(kept)).toBe(untouched)
    expect(contentOf(target)).toBe(contentOf(backupFile))
    const back = await serve(config)
    expect((await fetch(`${back.url}/ready`)).status).toBe(200)
  })
})

describe('partnerd backup and restore on PostgreSQL', () => {
  it("say how to use PostgreSQL's own tools, and write nothing", () => {
    const dir = tempDir()
    const config = writeConfig(
      { database: { postgres: { url: 'postgres://app:pw@127.0.0.1:1/partnerd' } }, secrets: { key: TEST_SECRET_KEY } },
      dir,
    )
    const backup = run(['backup', join(dir, 'copy.db'), '--config', config])
    expect(backup.code).toBe(1)
    expect(backup.stderr).toContain('pg_dump --format=custom')
    expect(backup.stderr).toContain('WAL archiving')
    expect(backup.stderr).toContain('secrets.key')
    const restore = run(['restore', join(dir, 'copy.db'), '--config', config])
    expect(restore.code).toBe(1)
    expect(restore.stderr).toContain('pg_restore --clean')
    expect(restore.stderr).toContain('point in time')
    expect(existsSync(join(dir, 'copy.db'))).toBe(false)
    const help = run(['--help'])
    for (const command of ['backup <file>', 'restore <file>', 'secrets rotate', 'secrets generate-key'])
      expect(help.stdout).toContain(command)
    const key = run(['secrets', 'generate-key'])
    expect(Buffer.from(key.stdout.trim(), 'base64')).toHaveLength(32)
  })
})
