/**
 * Every PATCH route in the OpenAPI document, field by field: a body naming one field changes that
 * field and nothing else, and an empty body changes nothing. (Elysia once filled a schema's defaults
 * into bodies, so `PATCH /programs/:id {"name"}` set an active program back to draft.) A PATCH route,
 * or a field of one, that this table does not know fails the suite until it is added here.
 * Also the writes that took a default for a missing required field: POST /members without a role.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DIALECTS } from './support/databases.ts'
import { startReceiver } from './support/receiver.ts'
import { startTestServer, type TestServer } from './support/server.ts'

type Json = Record<string, unknown>

interface Fixture {
  /** Makes the resource; answers the path to PATCH and how to read the resource back. */
  create(server: TestServer, key: string): Promise<{ path: string; read(): Promise<Json> }>
  /** A new value for every field of the body, by dotted path, in the order they are sent. */
  values: Record<string, unknown>
  /** An empty body is refused (a required field), rather than a no-op. */
  emptyRefused?: true
  /** Fields that are one value under two names (partnerd's and OpenPartner's): changing one changes the other. */
  aliases?: string[][]
}

const receiver = startReceiver()
const json = async (res: Response) => {
  expect(res.status, await res.clone().text()).toBeLessThan(300)
  return (await res.json()) as Json
}

const FIXTURES: Record<string, Fixture> = {
  '/api/programs/{id}': {
    async create(server, key) {
      const program = await json(
        await server.call('POST', '/api/programs', {
          key,
          body: {
            name: 'Launch',
            currency: 'USD',
            destinationUrl: 'https://shop.example.com/',
            attribution: { windowDays: 30, model: 'first_click' },
            holdbackDays: 14,
            rules: [{ on: 'sale', percent: '20' }],
          },
        }),
      )
      const path = `/api/programs/${program.id}`
      return { path, read: async () => json(await server.call('GET', path, { key })) }
    },
    // The currency changes only while a draft, so it goes before the status.
    values: {
      name: 'Renamed',
      currency: 'EUR',
      status: 'active',
      destinationUrl: 'https://shop.example.com/new',
      deepLinkHosts: ['docs.example.com'],
      'attribution.windowDays': 10,
      'attribution.model': 'linear',
      holdbackDays: 0,
      rules: [{ on: 'signup', amount: '5.00' }],
      // OpenPartner's names for the same settings (programs/openpartner.ts), as answers read them back.
      commissionRule: [{ trigger: 'every', eventType: 'sale', type: 'percent', value: 30, recurring: true }],
      attributionWindowDays: 20,
      attributionModel: 'position',
      deepLinkAllowedDomains: 'help.example.com',
    },
    aliases: [
      ['rules', 'commissionRule'],
      ['attribution.windowDays', 'attributionWindowDays'],
      ['attribution.model', 'attributionModel'],
      ['deepLinkHosts', 'deepLinkAllowedDomains'],
    ],
  },
  '/api/tenant': {
    async create(server, key) {
      return { path: '/api/tenant', read: async () => json(await server.call('GET', '/api/tenant', { key })) }
    },
    values: { name: 'Renamed organization', defaultCurrency: 'EUR' },
  },
  '/api/partners/{id}': {
    async create(server, key) {
      const partner = await json(
        await server.call('POST', '/api/partners', { key, body: { email: 'ada@example.com', name: 'Ada', metadata: { crm: 'c1' } } }),
      )
      const path = `/api/partners/${partner.id}`
      return { path, read: async () => json(await server.call('GET', path, { key })) }
    },
    values: { email: 'ada.lovelace@example.com', name: 'Ada Lovelace', metadata: { crm: 'c2' } },
  },
  '/api/webhooks/{id}': {
    async create(server, key) {
      const endpoint = await json(
        await server.call('POST', '/api/webhooks', {
          key,
          body: { url: `${receiver.url}/a`, events: ['partner.created'], label: 'CRM', format: 'openpartner' },
        }),
      )
      const path = `/api/webhooks/${endpoint.id}`
      // The answer also holds the endpoint under `endpoint` (OpenPartner's clients read it there):
      // the same fields, compared here once and then left out of the field-by-field comparison.
      const read = async () => {
        const { endpoint: mirror, ...own } = (await json(await server.call('GET', path, { key }))) as Json
        expect(mirror).toEqual(own)
        return own
      }
      return { path, read }
    },
    values: { url: `${receiver.url}/b`, events: ['payout.paid'], label: 'Books', active: false },
  },
  '/api/members/{userId}': {
    async create(server, key) {
      const member = await json(await server.call('POST', '/api/members', { key, body: { email: 'lin@example.com', role: 'member' } }))
      const read = async () => {
        const { members } = (await json(await server.call('GET', '/api/members', { key }))) as { members: Json[] }
        return members.find((m) => m.userId === member.userId)!
      }
      return { path: `/api/members/${member.userId}`, read }
    },
    values: { role: 'admin' },
    emptyRefused: true,
  },
}

/** The leaves of a value by dotted path (arrays and empty objects are leaves). */
function leaves(value: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>()
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) for (const [p, leaf] of leaves(v, prefix ? `${prefix}.${k}` : k)) out.set(p, leaf)
  } else out.set(prefix, value)
  return out
}

function at(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v as Json | undefined)?.[k], value)
}

/** Whether a leaf lies at or under a dotted path. */
const under = (leaf: string, path: string) => leaf === path || leaf.startsWith(`${path}.`)

function nested(path: string, value: unknown): Json {
  const [head, ...rest] = path.split('.')
  return { [head!]: rest.length ? nested(rest.join('.'), value) : value }
}

/** The body fields of an operation in the document, by dotted path, down through nested objects. */
function bodyFields(schema: { properties?: Record<string, Json> } | undefined, prefix = ''): string[] {
  return Object.entries(schema?.properties ?? {}).flatMap(([name, child]) => {
    const path = prefix ? `${prefix}.${name}` : name
    return child.type === 'object' && child.properties ? bodyFields(child as never, path) : [path]
  })
}

describe.each(DIALECTS)('PATCH changes only what it names, on %s', (dialect) => {
  let server: TestServer
  let patchRoutes: { path: string; fields: string[] }[] = []

  beforeAll(async () => {
    server = await startTestServer(dialect, { webhooks: { allow_hosts: ['127.0.0.1'] } })
    const doc = (await (await server.call('GET', '/api/openapi.json')).json()) as { paths: Record<string, Record<string, Json>> }
    patchRoutes = Object.entries(doc.paths)
      .filter(([, item]) => item.patch)
      .map(([path, item]) => {
        const body = (item.patch as { requestBody?: { content: Record<string, { schema: never }> } }).requestBody
        return { path, fields: bodyFields(body?.content['application/json']?.schema) }
      })
  })
  afterAll(async () => {
    await server.stop()
  })

  it('knows every PATCH route and every field of its body', () => {
    expect(patchRoutes.length).toBeGreaterThanOrEqual(4)
    for (const route of patchRoutes) {
      const fixture = FIXTURES[route.path]
      expect(fixture, `no fixture for PATCH ${route.path}`).toBeDefined()
      expect(Object.keys(fixture!.values).sort(), `PATCH ${route.path}`).toEqual([...route.fields].sort())
    }
  })

  it('changes the one field a body names, and an empty body changes nothing', async () => {
    for (const route of patchRoutes) {
      const fixture = FIXTURES[route.path]!
      const resource = await fixture.create(server, server.adminKey)
      const path = resource.path

      const beforeEmpty = await resource.read()
      const empty = await server.call('PATCH', path, { key: server.adminKey, body: {} })
      if (fixture.emptyRefused) expect(empty.status, `PATCH ${route.path} {}`).toBe(400)
      else expect(empty.status, `PATCH ${route.path} {}`).toBe(200)
      const afterEmpty = leaves(await resource.read())
      for (const [leaf, value] of leaves(beforeEmpty)) {
        if (leaf !== 'updatedAt') expect(afterEmpty.get(leaf), `PATCH ${route.path} {} changed ${leaf}`).toEqual(value)
      }

      for (const [field, value] of Object.entries(fixture.values)) {
        const names = fixture.aliases?.find((group) => group.includes(field)) ?? [field]
        const before = await resource.read()
        expect(at(before, field), `${route.path}: the fixture's ${field} must differ from the current value`).not.toEqual(value)
        const res = await server.call('PATCH', path, { key: server.adminKey, body: nested(field, value) })
        expect(res.status, `PATCH ${route.path} ${field}: ${await res.clone().text()}`).toBeLessThan(300)
        const after = await resource.read()
        expect(at(after, field), `PATCH ${route.path} ${field}`).toEqual(value)
        const afterLeaves = leaves(after)
        for (const [leaf, was] of leaves(before)) {
          if (!names.some((name) => under(leaf, name)) && leaf !== 'updatedAt') {
            expect(afterLeaves.get(leaf), `PATCH ${route.path} {${field}} changed ${leaf}`).toEqual(was)
          }
        }
      }
    }
  })

  it('refuses a member without a role rather than making an owner', async () => {
    const res = await server.call('POST', '/api/members', { key: server.adminKey, body: { email: 'norole@example.com' } })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({
      error: 'invalid_request',
      detail: expect.stringMatching(/^body\.role: must be one of owner, admin/),
    })
    const { members } = (await json(await server.call('GET', '/api/members', { key: server.adminKey }))) as { members: Json[] }
    expect(members.find((m) => m.email === 'norole@example.com')).toBeUndefined()
  })
})

afterAll(() => receiver.stop())
