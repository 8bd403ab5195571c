/**
 * Transactions that lose to another: withTenant runs one again from its start when PostgreSQL broke a
 * deadlock by aborting it (40P01) or refused it for a serialization conflict (40001), publishing its
 * events once; one that keeps losing is answered 503 with Retry-After, having written nothing. And the
 * deadlock that made DELETE /webhooks/:id fail while the delivery worker recorded outcomes is gone:
 * both take the endpoint's row before its deliveries.
 */
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mintApiKey } from '../src/auth/api-keys/service.ts'
import { createDatabase } from '../src/db/database.ts'
import type { DomainEvent } from '../src/domain-events/bus.ts'
import { createLogger } from '../src/log/logger.ts'
import { createPartner } from '../src/partners/service.ts'
import { openRuntime, type Runtime } from '../src/runtime.ts'
import { ensureDefaultTenant, type Tenant } from '../src/tenants/service.ts'
import { DIALECTS, testConfig } from './support/databases.ts'
import { APP_ROLE } from './support/pg-roles.ts'
import { type Receiver, startReceiver } from './support/receiver.ts'
import { startTestServer, type TestServer } from './support/server.ts'

/** An error as pg reports a lost transaction. */
const conflict = (code: '40001' | '40P01') =>
  Object.assign(new Error(code === '40001' ? 'could not serialize access due to concurrent update' : 'deadlock detected'), { code })

describe.each(DIALECTS)('withTenant, when a transaction loses to another, on %s', (dialect) => {
  let runtime: Runtime
  let tenant: Tenant
  const heard: DomainEvent[] = []
  beforeAll(async () => {
    runtime = await openRuntime(await testConfig(dialect), { migrate: true })
    tenant = (await ensureDefaultTenant(runtime.database.db, runtime.bus, runtime.secrets)).tenant
    runtime.bus.subscribe('api_key.created', (e) => void heard.push(e))
  })
  afterAll(() => runtime.close())

  const keyNames = async () =>
    (await runtime.withTenant(tenant.id, (s) => s.db.selectFrom('api_keys').select('name').execute())).map((r) => r.name)

  it('runs it again from its start, keeping only the last run’s writes and publishing its events once', async () => {
    let runs = 0
    const result = await runtime.withTenant(tenant.id, async (scope) => {
      runs++
      await mintApiKey(scope, 'op_live_', { name: `run ${runs}` }, { id: 'test' })
      if (runs < 3) throw conflict(runs === 1 ? '40P01' : '40001')
      return 'done'
    })
    expect([result, runs]).toEqual(['done', 3])
    await new Promise((r) => setTimeout(r, 20))
    expect(await keyNames()).toEqual(['run 3'])
    expect(heard.map((e) => (e.data as { name: string }).name)).toEqual(['run 3'])
  })

  it('gives up after two more runs, with the conflict, having written nothing', async () => {
    let runs = 0
    const started = performance.now()
    const failure = await runtime
      .withTenant(tenant.id, async (scope) => {
        runs++
        await mintApiKey(scope, 'op_live_', { name: 'never kept' }, { id: 'test' })
        throw conflict('40001')
      })
      .catch((err) => err)
    expect(failure).toMatchObject({ code: '40001' })
    expect(runs).toBe(3)
    expect(performance.now() - started).toBeLessThan(1_000) // small waits, not a stall
    expect(await keyNames()).not.toContain('never kept')
  })

  it('does not run again what failed for another reason', async () => {
    let runs = 0
    await expect(
      runtime.withTenant(tenant.id, async () => {
        runs++
        throw Object.assign(new Error('duplicate key'), { code: '23505' })
      }),
    ).rejects.toThrow('duplicate key')
    expect(runs).toBe(1)
  })
})

describe('withTenant on postgres, in a real deadlock', () => {
  let runtime: Runtime
  let tenant: Tenant
  beforeAll(async () => {
    runtime = await openRuntime(await testConfig('postgres'), { migrate: true })
    tenant = (await ensureDefaultTenant(runtime.database.db, runtime.bus, runtime.secrets)).tenant
  })
  afterAll(() => runtime.close())

  it('breaks it by aborting one transaction, which is run again and succeeds', async () => {
    const ids = await runtime.withTenant(tenant.id, async (scope) => [
      (await createPartner(scope, { email: 'one@partners.example' })).id,
      (await createPartner(scope, { email: 'two@partners.example' })).id,
    ])
    // Each transaction locks one row, waits until the other has locked the other row, then asks for it:
    // a cycle PostgreSQL breaks (after deadlock_timeout, 1 s) by aborting one of them with 40P01.
    const locked: Promise<void>[] = []
    const signals: (() => void)[] = []
    for (let i = 0; i < 2; i++) locked.push(new Promise<void>((resolve) => signals.push(resolve)))
    const runs = [0, 0]
    const rename = (first: number) =>
      runtime.withTenant(tenant.id, async (scope) => {
        runs[first]!++
        const touch = (id: string) =>
          scope.db
            .updateTable('partners')
            .set({ name: `by ${first}` })
            .where('tenant_id', '=', tenant.id)
            .where('id', '=', id)
            .execute()
        await touch(ids[first]!)
        if (runs[first] === 1) {
          signals[first]!()
          await locked[1 - first]
        }
        await touch(ids[1 - first]!)
        return runs[first]
      })
    const outcome = await Promise.all([rename(0), rename(1)])
    // Both succeeded; exactly one of them needed a second run.
    expect(outcome.sort()).toEqual([1, 2])
    const names = await runtime.withTenant(tenant.id, (s) =>
      s.db.selectFrom('partners').select('name').where('tenant_id', '=', tenant.id).where('id', 'in', ids).execute(),
    )
    // The one run again went last, and wrote both rows.
    expect(new Set(names.map((n) => n.name)).size).toBe(1)
  }, 15_000)
})

describe('a request whose transaction keeps losing on postgres', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer('postgres')
    // A trigger that refuses, as a serialization failure, every insert of a partner whose email says so;
    // the sequence (not rolled back with the transaction) counts the attempts.
    const owner = await createDatabase({ database: server.runtime.config.database, role: 'owner' })
    await sql`create sequence conflict_attempts`.execute(owner.db)
    await sql.raw(`grant usage, select on sequence conflict_attempts to ${APP_ROLE}`).execute(owner.db)
    await sql`create function refuse_as_conflict() returns trigger language plpgsql as $$
      begin
        perform nextval('conflict_attempts');
        raise exception 'could not serialize access due to concurrent update' using errcode = 'serialization_failure';
      end $$`.execute(owner.db)
    await sql`create trigger conflict_probe before insert on partners for each row
      when (new.email like 'conflict%') execute function refuse_as_conflict()`.execute(owner.db)
    await owner.close()
  })
  afterAll(() => server.stop())

  it('is answered 503 database_conflict with Retry-After after two more tries, having written nothing', async () => {
    const res = await server.call('POST', '/api/partners', { key: server.adminKey, body: { email: 'conflict@partners.example' } })
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await res.json()).toEqual({ error: 'database_conflict', detail: expect.stringMatching(/try again/) })
    const attempts = await sql<{ n: string | number }>`select last_value as n from conflict_attempts`.execute(server.runtime.database.db)
    expect(Number(attempts.rows[0]!.n)).toBe(3)
    const partners = await (await server.call('GET', '/api/partners', { key: server.adminKey })).json()
    expect(partners.partners).toEqual([])
    // Another partner is made as ever.
    expect((await server.call('POST', '/api/partners', { key: server.adminKey, body: { email: 'calm@partners.example' } })).status).toBe(
      201,
    )
  })
})

describe.each(DIALECTS)('deleting webhook endpoints while the worker records deliveries on %s', (dialect) => {
  let server: TestServer
  let receiver: Receiver
  /** What the server logged: a transaction run again after a deadlock says so. */
  const logged: { msg?: string; code?: string; level: number }[] = []
  beforeAll(async () => {
    receiver = startReceiver()
    // Every attempt fails and is retried at once: the worker keeps recording outcomes, and each first
    // failure of an endpoint updates the endpoint's row too (its failure clock).
    receiver.otherwise = 'fail'
    const log = createLogger({ level: 'info', format: 'json' }, { write: (line: string) => void logged.push(JSON.parse(line)) })
    server = await startTestServer(
      dialect,
      { webhooks: { retry_schedule_ms: new Array(30).fill(5), poll_interval_ms: 10, timeout_ms: 2_000, allow_hosts: ['127.0.0.1'] } },
      { log },
    )
  })
  afterAll(async () => {
    await server.stop()
    receiver.stop()
  })

  it('answers every delete (and every change raising events meanwhile) without a 5xx', async () => {
    const api = (method: string, path: string, body?: unknown) => server.call(method, `/api${path}`, { key: server.adminKey, body })
    const statuses = new Map<number, number>()
    const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1)
    const deadline = Date.now() + 20_000
    let deletes = 0
    let round = 0
    while (deletes < 300 && Date.now() < deadline) {
      round++
      const endpoints: string[] = []
      for (let i = 0; i < 10; i++) {
        const res = await api('POST', '/webhooks', { url: receiver.url, events: ['*'] })
        expect(res.status).toBe(201)
        endpoints.push((await res.json()).id)
      }
      // Deliveries to every endpoint, which the worker starts on at once.
      for (let i = 0; i < 3; i++) count((await api('POST', '/partners', { email: `r${round}-${i}@partners.example` })).status)
      const seen = receiver.received.length
      while (receiver.received.length < seen + 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2))
      // The endpoints go while their deliveries are being recorded, and while more events are raised.
      const answers = await Promise.all([
        ...endpoints.map((id) => api('DELETE', `/webhooks/${id}`)),
        api('POST', '/partners', { email: `r${round}-late@partners.example` }),
      ])
      for (const res of answers) count(res.status)
      deletes += endpoints.length
      expect(answers.slice(0, endpoints.length).map((r) => r.status)).toEqual(endpoints.map(() => 204))
    }
    expect(deletes).toBeGreaterThanOrEqual(100)
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([])
    expect(receiver.received.length).toBeGreaterThan(0)
    // Not a deadlock answered by running a transaction again either: the locks are taken in one order.
    expect(logged.filter((l) => l.code === '40P01' || l.level >= 50)).toEqual([])
  }, 40_000)
})
