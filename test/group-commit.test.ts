/**
 * Group commit (db/group-commit.ts) on both databases, with work of its own: items handed over in one
 * turn share a transaction; a batch whose work throws is rolled back and each item run again alone,
 * so that the failing one alone is refused and leaves nothing (no row, no domain event), while the
 * others are stored; and a unique constraint's refusal runs its item once more.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isUniqueViolation } from '../src/db/errors.ts'
import type { BatchWork } from '../src/db/group-commit.ts'
import type { DomainEvent } from '../src/domain-events/bus.ts'
import { createPartner } from '../src/partners/service.ts'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe.each(DIALECTS)('group commit on %s', (dialect) => {
  let server: TestServer
  let tenantId: string
  const events: DomainEvent[] = []
  const emails = async () =>
    server.runtime.withTenant(tenantId, async (scope) =>
      (await scope.db.selectFrom('partners').select('email').where('tenant_id', '=', tenantId).execute()).map((r) => r.email),
    )

  beforeAll(async () => {
    server = await startTestServer(dialect)
    tenantId = (await server.runtime.database.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow()).id
    server.runtime.bus.subscribe('partner.created', (e) => void events.push(e))
  })
  afterAll(() => server.stop())

  /** Work that makes a partner per item, one after another, and throws on an item named `poison…`. */
  const partners = (transactions: Set<unknown>, runs: string[][]): BatchWork<string, string> => {
    return async (scope, names) => {
      transactions.add(scope.db)
      runs.push(names)
      const made = []
      for (const name of names) {
        const partner = await createPartner(scope, { email: `${name}@partners.example` })
        if (name.startsWith('poison')) throw new Error(`refused ${name}`)
        made.push({ value: partner.id })
      }
      return made
    }
  }

  it('runs items handed over together in one transaction, and answers each once it has committed', async () => {
    const transactions = new Set<unknown>()
    const runs: string[][] = []
    const work = partners(transactions, runs)
    const ids = await Promise.all(['a1', 'a2', 'a3'].map((name) => server.runtime.withTenant.batched(tenantId, work, name)))
    expect(ids).toHaveLength(3)
    expect(runs).toEqual([['a1', 'a2', 'a3']])
    expect(transactions.size).toBe(1)
    expect(await emails()).toEqual(expect.arrayContaining(['a1@partners.example', 'a2@partners.example', 'a3@partners.example']))
  })

  it('runs the items of a batch whose work threw again one by one: the failing one alone is refused and leaves nothing', async () => {
    const transactions = new Set<unknown>()
    const runs: string[][] = []
    const work = partners(transactions, runs)
    const before = events.length
    const settled = await Promise.allSettled(
      ['b1', 'poison-b2', 'b3'].map((name) => server.runtime.withTenant.batched(tenantId, work, name)),
    )
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((settled[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'refused poison-b2' })
    // Together first, then each alone.
    expect(runs).toEqual([['b1', 'poison-b2', 'b3'], ['b1'], ['poison-b2'], ['b3']])
    const stored = await emails()
    expect(stored).toEqual(expect.arrayContaining(['b1@partners.example', 'b3@partners.example']))
    expect(stored).not.toContain('poison-b2@partners.example')
    const raised = events.slice(before).map((e) => (e.data as { email: string }).email)
    expect(raised.sort()).toEqual(['b1@partners.example', 'b3@partners.example'])
  })

  it('runs an item a unique constraint refused once more, and answers the second refusal', async () => {
    let tries = 0
    const work: BatchWork<string, string> = async (scope, names) => {
      tries++
      // The same email twice is refused by the partners' unique email.
      for (const name of names) {
        const partner = await createPartner(scope, { email: `${name}@partners.example` })
        const row = await scope.db.selectFrom('partners').selectAll().where('id', '=', partner.id).executeTakeFirstOrThrow()
        await scope.db
          .insertInto('partners')
          .values({ ...row, id: `${row.id}x` })
          .execute()
      }
      return names.map((name) => ({ value: name }))
    }
    const refusal = await server.runtime.withTenant.batched(tenantId, work, 'c1').catch((err) => err)
    expect(isUniqueViolation(refusal)).toBe(true)
    // Together, then alone twice (the refusal, and the run once more).
    expect(tries).toBe(3)
    expect(await emails()).not.toContain('c1@partners.example')
  })
})
