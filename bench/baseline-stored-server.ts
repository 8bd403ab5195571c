/**
 * The click router's second baseline: the bare server (baseline-server.ts) storing each click before
 * it answers, through partnerd's own click store (src/links/click-store.ts: the same statements and,
 * on SQLite, a commit synced to disk as partnerd's default makes it), with the simplest group commit:
 * one batch in flight, on the serving thread, while the clicks that arrive meanwhile gather for the
 * next. No framework, no link lookup, no address hash, no second thread, no checkpoint thread.
 *
 * Against it, partnerd's ratio is what its own work costs; its ratio to the bare server, what storing
 * every click durably costs on this machine.
 *
 * BASELINE_STORE (JSON): `{sqlite: path}` or `{postgres: url}`, with `click`: the tenant, link,
 * partner and program the clicks are stored for.
 */

import { openSqlite } from '../src/db/sqlite-connection.ts'
import { type ClickValues, clickValues } from '../src/links/click-columns.ts'
import { type ClickStore, postgresClickStore, sqliteClickStore } from '../src/links/click-store.ts'
import { clickRedirect } from './click-redirect.ts'

interface StoreSettings {
  sqlite?: string
  postgres?: string
  click: { tenantId: string; linkId: string; partnerId: string; programId: string }
}

const settings = JSON.parse(process.env.BASELINE_STORE ?? 'null') as StoreSettings | null
if (!settings) throw new Error('BASELINE_STORE is not set')
const { click } = settings

async function openStore(): Promise<ClickStore> {
  if (settings!.postgres) return postgresClickStore(settings!.postgres)
  const db = openSqlite({ path: settings!.sqlite!, busyTimeoutMs: 5000, synchronous: 'full' })
  const store = sqliteClickStore(db)
  // The store leaves checkpoints to partnerd's checkpoint thread; here the commits make them, as
  // SQLite does by default.
  db.exec('PRAGMA wal_autocheckpoint = 1000')
  return store
}
const store = await openStore()

interface Batch {
  rows: ClickValues[]
  stored: Promise<void>
  settle: (err?: unknown) => void
}
let gathering: Batch | undefined
let writing = false

function stored(row: ClickValues): Promise<void> {
  if (!gathering) {
    let settle!: Batch['settle']
    const done = new Promise<void>((resolve, reject) => {
      settle = (err) => (err === undefined ? resolve() : reject(err))
    })
    gathering = { rows: [], stored: done, settle }
    if (!writing) setImmediate(writeBatches)
  }
  gathering.rows.push(row)
  return gathering.stored
}

async function writeBatches(): Promise<void> {
  writing = true
  while (gathering) {
    const batch = gathering
    gathering = undefined
    try {
      await store.write(batch.rows)
      batch.settle()
    } catch (err) {
      batch.settle(err)
    }
  }
  writing = false
}

const port = Number(process.argv[2] ?? process.env.PORT ?? 0)
const ready = JSON.stringify({ status: 'ready' })
let clicks = 0
const server = Bun.serve({
  hostname: '127.0.0.1',
  port,
  fetch: async (req) => {
    const path = new URL(req.url).pathname
    if (!path.startsWith('/r/')) return new Response(ready, { headers: { 'content-type': 'application/json' } })
    const cref = `clk_${(++clicks).toString(36).padStart(26, '0')}_${process.pid}`
    await stored(
      clickValues({
        id: cref,
        tenant_id: click.tenantId,
        link_id: click.linkId,
        partner_id: click.partnerId,
        program_id: click.programId,
        source: 'link',
        ip_hash: null,
        user_agent: req.headers.get('user-agent'),
        referer: req.headers.get('referer'),
        sub_source: null,
        flag: null,
        created_at: new Date().toISOString(),
      }),
    )
    return clickRedirect(cref)
  },
})
console.log(JSON.stringify({ msg: 'stored baseline listening', url: `http://127.0.0.1:${server.port}` }))
