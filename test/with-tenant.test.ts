import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mintApiKey } from '../src/auth/api-keys/service.ts'
import type { DomainEvent } from '../src/domain-events/bus.ts'
import { openRuntime, type Runtime } from '../src/runtime.ts'
import { ensureDefaultTenant, type Tenant } from '../src/tenants/service.ts'
import { DIALECTS, testConfig } from './support/databases.ts'

describe.each(DIALECTS)('withTenant on %s', (dialect) => {
  let runtime: Runtime
  let tenant: Tenant
  const heard: DomainEvent[] = []
  beforeAll(async () => {
    runtime = await openRuntime(await testConfig(dialect), { migrate: true })
    tenant = (await ensureDefaultTenant(runtime.database.db, runtime.bus)).tenant
    runtime.bus.subscribe('*', (e) => void heard.push(e))
  })
  afterAll(() => runtime.close())

  const keyNames = () => runtime.withTenant(tenant.id, (s) => s.db.selectFrom('api_keys').select('name').execute())

  it('a failure rolls back every write of the unit and publishes none of its events', async () => {
    await expect(
      runtime.withTenant(tenant.id, async (scope) => {
        await mintApiKey(scope, 'op_live_', { name: 'first' })
        await mintApiKey(scope, 'op_live_', { name: 'second' })
        throw new Error('something later failed')
      }),
    ).rejects.toThrow('something later failed')
    await new Promise((r) => setTimeout(r, 10))
    expect(await keyNames()).toEqual([])
    expect(heard).toEqual([])
  })

  it('publishes events only once the transaction has committed', async () => {
    let seenInside = -1
    await runtime.withTenant(tenant.id, async (scope) => {
      await mintApiKey(scope, 'op_live_', { name: 'kept' })
      seenInside = heard.length
    })
    await new Promise((r) => setTimeout(r, 10))
    expect(seenInside).toBe(0)
    expect(heard.map((e) => [e.type, e.tenantId])).toEqual([['api_key.created', tenant.id]])
    expect(JSON.stringify(heard[0]!.data)).not.toMatch(/op_live_[A-Za-z0-9_-]{43}/)
    expect((await keyNames()).map((r) => r.name)).toEqual(['kept'])
  })
})
