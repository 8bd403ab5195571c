/**
 * A person in several organizations (multi mode, PostgreSQL): the console's top bar links the others,
 * `/` takes them to theirs (straight there when there is one), and nobody sees another person's
 * memberships, through the pages or through the database policy that lets a person read their own.
 */
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPartner } from '../src/partners/service.ts'
import { createTenant, type Tenant } from '../src/tenants/service.ts'
import { organizationsOf } from '../src/users/organizations.ts'
import { addMembership, createUser } from '../src/users/service.ts'
import { get, type Session, signIn } from './support/console.ts'
import { startTestServer, type TestServer } from './support/server.ts'

const PASSWORD = 'a long passphrase for Olga'

describe('a person’s organizations, in multi mode on PostgreSQL', () => {
  let server: TestServer
  const tenants: Record<string, Tenant> = {}
  let olga: Session
  let olgaId: string
  let soloId: string

  beforeAll(async () => {
    server = await startTestServer('postgres', { mode: 'multi' })
    const { runtime } = server
    for (const [slug, name] of [
      ['acme', 'Acme Inc'],
      ['globex', 'Globex'],
      ['initech', 'Initech'],
      ['umbrella', 'Umbrella'],
    ] as const) {
      tenants[slug] = await createTenant(runtime.database.db, runtime.bus, runtime.secrets, { slug, name })
    }
    const user = await createUser(runtime.database.db, { email: 'olga@example.com', password: PASSWORD })
    const solo = await createUser(runtime.database.db, { email: 'solo@example.com', password: PASSWORD })
    olgaId = user.id
    soloId = solo.id
    await runtime.withTenant(tenants.acme!.id, (s) => addMembership(s, user.id, 'owner'))
    await runtime.withTenant(tenants.globex!.id, (s) => addMembership(s, user.id, 'viewer'))
    // A partner's membership is the portal's, not a console to switch to.
    await runtime.withTenant(tenants.initech!.id, async (s) => {
      const partner = await createPartner(s, { email: 'olga@example.com' })
      await addMembership(s, user.id, 'partner', partner.id)
    })
    await runtime.withTenant(tenants.umbrella!.id, (s) => addMembership(s, solo.id, 'owner'))
    olga = await signIn(server, 'olga@example.com', PASSWORD, '/t/acme')
  })
  afterAll(() => server?.stop())

  it('links the person’s other consoles from the top bar, and no one else’s', async () => {
    const html = await (await get(server, '/t/acme/admin', olga)).text()
    expect(html).toContain('<a href="/t/globex/admin">Globex</a>')
    expect(html).not.toContain('>Acme Inc</a>')
    expect(html).not.toContain('/t/initech/admin')
    expect(html).not.toContain('/t/umbrella/admin')
    // The same from the other side.
    const there = await (await get(server, '/t/globex/admin', olga)).text()
    expect(there).toContain('href="/t/acme/admin"')
  })

  it('lists them at / for someone signed in; goes straight to the one of a person with one', async () => {
    const home = await get(server, '/', olga)
    expect(home.status).toBe(200)
    const html = await home.text()
    expect(html).toContain('Your organizations')
    expect(html.indexOf('href="/t/acme/admin"')).toBeLessThan(html.indexOf('href="/t/globex/admin"'))
    expect(html).not.toContain('/t/initech/admin')

    const solo = await signIn(server, 'solo@example.com', PASSWORD, '/t/umbrella')
    const straight = await get(server, '/', solo)
    expect(straight.status).toBe(303)
    expect(straight.headers.get('location')).toBe('/t/umbrella/admin')

    // Signed out: which organization to sign in to.
    const anonymous = await (await get(server, '/')).text()
    expect(anonymous).toContain('Your organization')
    expect(anonymous).not.toContain('/t/acme/admin')
  })

  it('shows an organization joined since on the next page', async () => {
    const { runtime } = server
    expect((await organizationsOf(runtime.database, olgaId)).map((o) => o.slug)).toEqual(['acme', 'globex'])
    await runtime.withTenant(tenants.umbrella!.id, (s) => addMembership(s, olgaId, 'member'))
    const html = await (await get(server, '/t/acme/admin', olga)).text()
    expect(html).toContain('href="/t/umbrella/admin"')
  })

  it('lets the serving role read a person’s own memberships only, and only when it names them', async () => {
    const { db } = server.runtime.database
    const asPerson = (userId: string | null) =>
      db.transaction().execute(async (trx) => {
        if (userId) await sql`select set_config('app.user_id', ${userId}, true)`.execute(trx)
        return trx.selectFrom('memberships').select(['user_id', 'tenant_id']).execute()
      })
    const olgas = await asPerson(olgaId)
    expect(olgas.length).toBe(4)
    expect(olgas.every((m) => m.user_id === olgaId)).toBe(true)
    expect((await asPerson(soloId)).map((m) => m.tenant_id)).toEqual([tenants.umbrella!.id])
    // Naming nobody shows nothing, as with no tenant set; and the policy only reads.
    expect(await asPerson(null)).toEqual([])
    await expect(
      db.transaction().execute(async (trx) => {
        await sql`select set_config('app.user_id', ${olgaId}, true)`.execute(trx)
        await trx.updateTable('memberships').set({ role: 'owner' }).where('user_id', '=', olgaId).execute()
        return trx.selectFrom('memberships').select('role').where('user_id', '=', olgaId).where('role', '=', 'viewer').execute()
      }),
    ).resolves.toHaveLength(1)
  })
})
