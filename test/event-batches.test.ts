/**
 * Events that arrive together share a commit (db/group-commit.ts). What batching could break, on both
 * databases: events of one customer seeing each other, a replay of an event in the batch that records
 * it, a refund beside its sale, and a bad event among good ones (it alone fails, and leaves nothing).
 * The events are handed to withTenant in one turn of the event loop, which puts them in one batch;
 * each unit notes its transaction, so a test can tell that they did share it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type EventInput, type EventItem, type EventOutcome, eventBatches } from '../src/attribution/events.ts'
import type { BatchWork } from '../src/db/group-commit.ts'
import type { DomainEvent } from '../src/domain-events/bus.ts'
import type { AppError } from '../src/errors.ts'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe.each(DIALECTS)('events committed together on %s', (dialect) => {
  let server: TestServer
  let tenantId: string
  const events: DomainEvent[] = []
  const json = async (method: string, path: string, body?: unknown) => {
    const res = await server.call(method, `/api${path}`, { key: server.adminKey, body })
    const data = await res.json()
    expect(res.status, `${method} ${path}: ${JSON.stringify(data)}`).toBeLessThan(300)
    return data
  }
  let seq = 0
  /** A program with `rules`, a partner and a link, and a customer who clicked it and was identified. */
  const customer = async (rules: unknown[] = [{ on: 'sale', percent: '20' }]) => {
    const program = await json('POST', '/programs', {
      name: `Program ${++seq}`,
      currency: 'USD',
      status: 'active',
      destinationUrl: 'https://shop.example.com/',
      holdbackDays: 0,
      rules,
    })
    const partner = await json('POST', '/partners', { email: `p${++seq}@partners.example` })
    const link = await json('POST', '/links', { partnerId: partner.id, programId: program.id })
    const res = await fetch(`${server.url}/r/${link.key}`, { redirect: 'manual' })
    const cref = new URL(res.headers.get('location')!).searchParams.get('cref')
    const userId = `customer-${++seq}`
    await json('POST', '/attribution/identify', { cref, userId })
    return { program, partner, userId }
  }
  /**
   * Records the events in one batch: all handed over in the same turn. Answers each one's outcome (or
   * error) and the transactions the units last ran in.
   */
  const batch = async (inputs: EventInput[]) => {
    const transactions = new Set<unknown>()
    const record = eventBatches(server.runtime.programTerms)
    const work: BatchWork<EventItem, EventOutcome> = (scope, items) => {
      transactions.add(scope.db)
      return record(scope, items)
    }
    const settled = await Promise.allSettled(
      inputs.map((input) => server.runtime.withTenant.batched(tenantId, work, { input, now: new Date() })),
    )
    return { settled, transactions }
  }
  const ok = (outcome: PromiseSettledResult<EventOutcome> | undefined) => {
    if (outcome?.status !== 'fulfilled') throw new Error(`the event failed: ${outcome?.status === 'rejected' && outcome.reason}`)
    return outcome.value
  }
  const count = async (table: 'events' | 'commissions' | 'referrals', column: string, value: string) =>
    server.runtime.withTenant(tenantId, async (scope) => {
      const rows = await scope.db
        .selectFrom(table)
        .select(scope.db.fn.countAll<number>().as('n'))
        .where('tenant_id', '=', tenantId)
        .where(column as never, '=', value as never)
        .executeTakeFirstOrThrow()
      return Number(rows.n)
    })

  beforeAll(async () => {
    server = await startTestServer(dialect, { commissions: { approve_interval_seconds: 0 } })
    tenantId = (await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()).id
    server.runtime.bus.subscribe('*', (e) => void events.push(e))
  })
  afterAll(() => server.stop())

  it('gives two sales of one customer in one batch one referral: the first earns, the second sees it was not first', async () => {
    const { userId, partner } = await customer()
    const { settled, transactions } = await batch([
      { userId, type: 'sale', value: '100.00', currency: 'USD', externalEventId: `first-${userId}` },
      { userId, type: 'sale', value: '50.00', currency: 'USD', externalEventId: `second-${userId}` },
    ])
    expect(transactions.size).toBe(1)
    const [first, second] = [ok(settled[0]), ok(settled[1])]
    expect(first.result.commissions).toMatchObject([{ partnerId: partner.id, amount: '20.00' }])
    expect(second.result.attribution).toMatchObject({ status: 'attributed', reason: 'not_first' })
    expect(second.result.commissions).toEqual([])
    expect(await count('referrals', 'customer_id', userId)).toBe(1)
    expect(await count('events', 'customer_id', userId)).toBe(2)
  })

  it('answers a replay in the batch of its original with the original, and a changed body with 409', async () => {
    const { userId } = await customer()
    const sale = { userId, type: 'sale', value: '10.00', currency: 'USD', externalEventId: `replayed-${userId}` }
    const { settled } = await batch([sale, { ...sale }, { ...sale, value: '11.00' }])
    const [original, replay] = [ok(settled[0]), ok(settled[1])]
    expect(original.replayed).toBe(false)
    expect(replay.replayed).toBe(true)
    expect(replay.result).toEqual(original.result)
    expect(original.result.commissions).toHaveLength(1)
    const changed = settled[2]
    expect(changed?.status).toBe('rejected')
    expect((changed as PromiseRejectedResult).reason).toMatchObject({ status: 409, code: 'event_conflict' })
    expect(await count('events', 'customer_id', userId)).toBe(1)
    expect(await count('commissions', 'customer_id', userId)).toBe(1)
  })

  it('reverses a sale refunded in the same batch', async () => {
    const { userId } = await customer()
    const saleId = `refunded-${userId}`
    const { settled, transactions } = await batch([
      { userId, type: 'sale', value: '40.00', currency: 'USD', externalEventId: saleId },
      { userId, type: 'refund', value: '10.00', currency: 'USD', refundOf: saleId, externalEventId: `refund-${userId}` },
    ])
    expect(transactions.size).toBe(1)
    const [sale, refund] = [ok(settled[0]), ok(settled[1])]
    expect(sale.result.commissions).toMatchObject([{ amount: '8.00' }])
    expect(refund.result.attribution.status).toBe('reversal')
    // A quarter of the sale refunded: a quarter of its commission clawed back.
    expect(refund.result.commissions).toMatchObject([{ kind: 'clawback', amount: '-2.00' }])
  })

  it('fails a bad event alone: the others in its batch are recorded, it leaves no row and raises nothing', async () => {
    const { userId } = await customer()
    const saleId = `kept-${userId}`
    const before = events.length
    const { settled, transactions } = await batch([
      { userId, type: 'sale', value: '30.00', currency: 'USD', externalEventId: saleId },
      // Refused after its row was written: a refund larger than the sale.
      { userId, type: 'refund', value: '31.00', currency: 'USD', refundOf: saleId, externalEventId: `too-much-${userId}` },
      { userId, type: 'signup', externalEventId: `signup-${userId}` },
      // Refused before anything was written: a timestamp far in the future.
      { userId, type: 'sale', value: '5.00', currency: 'USD', ts: '2999-01-01T00:00:00Z', externalEventId: `future-${userId}` },
      { userId, type: 'refund', value: '3.00', currency: 'USD', refundOf: saleId, externalEventId: `refund-${userId}` },
    ])
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'])
    const refused = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as AppError)
    expect(refused.map((e) => [e.status, e.code])).toEqual([
      [400, 'invalid_refund'],
      [400, 'invalid_timestamp'],
    ])
    // Refused without a rollback of the batch: the others kept their one transaction.
    expect(transactions.size).toBe(1)
    expect(ok(settled[4]).result.commissions).toMatchObject([{ kind: 'clawback', amount: '-0.60' }])
    expect(await count('events', 'customer_id', userId)).toBe(3)
    for (const gone of [`too-much-${userId}`, `future-${userId}`]) expect(await count('events', 'external_event_id', gone)).toBe(0)
    const recorded = events
      .slice(before)
      .filter((e) => e.type === 'event.recorded')
      .map((e) => (e.data as { externalEventId: string }).externalEventId)
    expect(recorded.sort()).toEqual([saleId, `refund-${userId}`, `signup-${userId}`].sort())
  })

  it('answers concurrent requests each with its own outcome over HTTP', async () => {
    const { userId } = await customer()
    const bodies = Array.from({ length: 12 }, (_, i) => ({
      userId,
      type: 'sale',
      value: i === 5 ? '-1.00' : '20.00',
      currency: 'USD',
      externalEventId: `http-${userId}-${i}`,
    }))
    const answers = await Promise.all(
      bodies.map(async (body) => {
        const res = await server.call('POST', '/api/attribution/events', { key: server.adminKey, body })
        return { status: res.status, body: await res.json() }
      }),
    )
    expect(answers.map((a) => a.status)).toEqual(bodies.map((_, i) => (i === 5 ? 400 : 200)))
    expect(answers[5]!.body).toMatchObject({ error: 'invalid_amount' })
    expect(answers.filter((a) => a.status === 200).every((a) => a.body.ok === true && a.body.replayed === false)).toBe(true)
    expect(await count('events', 'customer_id', userId)).toBe(11)
  })

  it('reads a program changed through the API at its next event, though its terms are remembered between events', async () => {
    const rules = (percent: string) => [{ on: 'sale', percent, recurring: { lifetime: true } }]
    const { userId, program, partner } = await customer(rules('20'))
    const sale = async () =>
      json('POST', '/attribution/events', { userId, type: 'sale', value: '100.00', currency: 'USD', externalEventId: `sale-${++seq}` })
    expect((await sale()).commissions).toMatchObject([{ amount: '20.00' }])
    // New rules reach an enrolled partner once its terms are refreshed (grandfathering).
    await json('PATCH', `/programs/${program.id}`, { rules: rules('50') })
    await json('POST', `/programs/${program.id}/enrolments/${partner.id}/refresh-terms`)
    expect((await sale()).commissions).toMatchObject([{ amount: '50.00' }])
    await json('PATCH', `/programs/${program.id}`, { status: 'paused' })
    expect((await sale()).attribution).toMatchObject({ status: 'attributed', reason: 'program_not_active' })
    await json('PATCH', `/programs/${program.id}`, { status: 'active' })
    expect((await sale()).commissions).toMatchObject([{ amount: '50.00' }])
    // The terms are remembered: a change that raises no domain event (a write behind the API's back,
    // as another instance's would be here) is seen once they are forgotten (or expire).
    await server.runtime.withTenant(tenantId, (scope) =>
      scope.db.updateTable('programs').set({ status: 'paused' }).where('tenant_id', '=', tenantId).where('id', '=', program.id).execute(),
    )
    expect((await sale()).commissions).toMatchObject([{ amount: '50.00' }])
    server.runtime.programTerms.remembered.forget()
    expect((await sale()).attribution).toMatchObject({ reason: 'program_not_active' })
  })
})
