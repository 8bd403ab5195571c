/**
 * Webhook delivery throughput: N deliveries in the outbox of a running partnerd (SQLite) falling
 * due at once, timed until a loopback receiver has them all, against the same bodies POSTed to the same receiver
 * straight from this process with the worker's concurrency (its batch of 50). The ratio is what
 * claiming, signing and recording each delivery costs.
 */

import { Database as Sqlite } from 'bun:sqlite'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PARTNERD, startTimed, stop } from './support.ts'

const N = 5_000
const CONCURRENCY = 50

export async function webhooksBench(options: { work: string }): Promise<string[][]> {
  let received = 0
  const receiver = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (request) => {
      await request.arrayBuffer()
      received++
      return new Response('ok')
    },
  })
  const dir = mkdtempSync(join(options.work, 'webhooks-'))
  const key = randomBytes(32).toString('hex')
  const config = join(dir, 'partnerd.yaml')
  writeFileSync(
    config,
    `server:\n  host: 127.0.0.1\n  port: \${PORT:-0}\nauth:\n  admin_api_keys: ${key}\ndatabase:\n  sqlite:\n    path: ${join(dir, 'partnerd.db')}\nlogging:\n  level: warn\nwebhooks:\n  poll_interval_ms: 10\n  allow_hosts: ['127.0.0.1']\n`,
  )
  let server = await startTimed(PARTNERD, ['serve', '--config', config])
  try {
    const url = `http://127.0.0.1:${receiver.port}/hook`
    const endpoint = await (
      await fetch(`${server.url}/api/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ url, events: ['bench.event'] }),
      })
    ).json()
    const db = new Sqlite(join(dir, 'partnerd.db'))
    db.exec('pragma busy_timeout = 10000')
    const tenant = (db.query('select id from tenants limit 1').get() as { id: string }).id
    const now = new Date().toISOString()
    const body = (i: number) =>
      JSON.stringify({ id: `wev_bench_${i}`, type: 'bench.event', created: now, data: { partnerId: 'p', amount: '12.00', index: i } })
    const insert = db.query(
      `insert into webhook_deliveries (id, tenant_id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, created_at)
       values (?1, ?2, ?3, 'bench.event', ?4, 'pending', 0, ?5, ?5)`,
    )
    // The backlog is written not yet due, and partnerd started again on it, as a server that has run
    // a while has its database open: it reads the planner's statistics at open (db/database.ts). Then
    // it falls due at once.
    db.transaction(() => {
      for (let i = 0; i < N; i++) insert.run(`msg_bench_${i}`, tenant, endpoint.id, body(i), '9999-01-01T00:00:00.000Z')
    })()
    await stop(server.proc)
    server = await startTimed(PARTNERD, ['serve', '--config', config])
    db.query(`update webhook_deliveries set next_attempt_at = ?1, created_at = ?1`).run(new Date().toISOString())
    db.close()
    const t0 = performance.now()
    while (received < N) {
      if (performance.now() - t0 > 120_000) throw new Error(`only ${received} of ${N} deliveries in 120 s`)
      await Bun.sleep(5)
    }
    const viaPartnerd = N / ((performance.now() - t0) / 1000)

    received = 0
    let next = 0
    const t1 = performance.now()
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < N) {
          const i = next++
          await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) })).arrayBuffer()
        }
      }),
    )
    const plain = N / ((performance.now() - t1) / 1000)
    return [
      [
        `webhook deliveries/s (${N}, loopback receiver) vs plain POSTs`,
        viaPartnerd.toFixed(0),
        plain.toFixed(0),
        (viaPartnerd / plain).toFixed(2),
      ],
    ]
  } finally {
    await stop(server.proc)
    receiver.stop(true)
  }
}
