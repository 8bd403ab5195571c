import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Type } from '@sinclair/typebox'
import { afterEach, describe, expect, it } from 'vitest'
import type { DomainEvent } from '../src/domain-events/bus.ts'
import { definePlugin, type PluginDefinition } from '../src/plugins/contract.ts'
import { openRuntime, type Runtime } from '../src/runtime.ts'
import { startServer } from '../src/server.ts'
import { createTenant } from '../src/tenants/service.ts'
import { DIALECTS, tempDir, testConfig } from './support/databases.ts'

const heard: DomainEvent[] = []

/** A built-in-style plugin using every part of the host API. */
const notes = definePlugin({
  name: 'notes',
  version: '1.2.3',
  events: { 'note.created': 'A note was written' },
  config: (t) => t.Object({ maxLength: t.Integer({ default: 20, minimum: 1 }) }, { additionalProperties: false }),
  setup(host) {
    host.migrations({
      '0001_notes': {
        async up(db) {
          await db.schema
            .createTable('plugin_notes')
            .addColumn('id', 'text', (c) => c.primaryKey())
            .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
            .addColumn('body', 'text', (c) => c.notNull())
            .execute()
          await host.isolateTenantRows(db, 'plugin_notes')
        },
      },
    })
    host.routes((api) =>
      api.post(
        '/notes',
        async ({ body, withTenant }) => {
          if (body.text.length > host.config.maxLength)
            throw new host.AppError(422, 'note_too_long', `at most ${host.config.maxLength} characters`)
          return withTenant(async (scope) => {
            await scope.db
              .insertInto('plugin_notes' as never)
              .values({ id: crypto.randomUUID(), tenant_id: scope.tenantId, body: body.text } as never)
              .execute()
            scope.emit('note.created', { text: body.text })
            const rows = await (scope.db as any).selectFrom('plugin_notes').select('body').where('tenant_id', '=', scope.tenantId).execute()
            return { notes: rows.map((r: { body: string }) => r.body) }
          })
        },
        { auth: { scopes: ['partners:write'] }, body: host.t.Object({ text: host.t.String() }) },
      ),
    )
    host.on('note.created', (event) => void heard.push(event))
    host.on('tenant.created', (event) => void heard.push(event))
  },
})

const registry = (plugin: PluginDefinition<any>) => ({
  [plugin.name]: { load: async () => ({ default: plugin }), enabledByDefault: false },
})

describe.each(DIALECTS)('plugins on %s', (dialect) => {
  let runtime: Runtime | undefined
  afterEach(async () => {
    await runtime?.close()
    runtime = undefined
    heard.length = 0
  })

  it('a built-in plugin gets its validated config, its tables, its routes behind the auth guard, and events after commit', async () => {
    const loaded = await testConfig(dialect, { plugins: [{ builtin: 'notes', config: { maxLength: '10' } }] })
    runtime = await openRuntime(loaded, { migrate: true, pluginRegistry: registry(notes) })
    expect(runtime.plugins.names).toEqual([{ name: 'notes', version: '1.2.3' }])
    const server = await startServer(runtime)
    try {
      const call = (key: string | undefined, text: string) =>
        fetch(`${server.url}/api/notes`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
          body: JSON.stringify({ text }),
        })
      expect((await call(undefined, 'hi')).status).toBe(401)
      const ok = await call(server.bootstrapKey, 'hi')
      expect(await ok.json()).toEqual({ notes: ['hi'] })
      const long = await call(server.bootstrapKey, 'far too long for ten')
      expect(long.status).toBe(422)
      expect(await long.json()).toEqual({ error: 'note_too_long', detail: 'at most 10 characters' })
      await new Promise((r) => setTimeout(r, 20))
      expect(heard.map((e) => e.type)).toContain('tenant.created')
      expect(heard.find((e) => e.type === 'note.created')?.data).toEqual({ text: 'hi' })
    } finally {
      await server.stop()
    }
  })

  it('keeps each plugin’s migration history apart, so switching a plugin off leaves the schema valid', async () => {
    const loaded = await testConfig(dialect, { plugins: [{ builtin: 'notes' }] })
    runtime = await openRuntime(loaded, { migrate: true, pluginRegistry: registry(notes) })
    await runtime.close()
    const without = { ...loaded, config: { ...loaded.config, plugins: [{ builtin: 'notes', enabled: false }] } }
    runtime = await openRuntime(without, { migrate: false, pluginRegistry: registry(notes) })
    expect(runtime.plugins.names).toEqual([])
  })

  it('stops start-up with one line naming the plugin for every failure', async () => {
    const dir = tempDir()
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text)
      return join(dir, name)
    }
    const attempts: [Record<string, unknown>, RegExp][] = [
      [{ builtin: 'nope' }, /plugins\.0\.builtin: no built-in plugin nope \(available: notes\)/],
      [{ builtin: 'notes', config: { maxLength: 'many' } }, /plugin notes .*config\.maxLength: expected integer/],
      [{ builtin: 'notes', config: { colour: 'red' } }, /plugin notes .*config\.colour: unknown key/],
      [{ path: './missing.ts' }, /plugins\.0\.path: .*missing\.ts does not exist/],
      [{ path: file('syntax.ts', 'export default {') }, /plugin .*syntax\.ts: cannot load/],
      [
        {
          path: file(
            'bare.ts',
            "import { Elysia } from 'no-such-package'\nexport default { name: 'bare', version: '1', setup() { new Elysia() } }",
          ),
        },
        /plugin .*bare\.ts: cannot load/,
      ],
      [{ path: file('noname.ts', "export default { version: '1', setup() {} }") }, /name must be lower-case/],
      [
        { path: file('throws.ts', "export default { name: 'boom', version: '1', setup() { throw new Error('no token') } }") },
        /plugin .*throws\.ts: setup failed: no token/,
      ],
    ]
    for (const [entry, message] of attempts) {
      const loaded = await testConfig('sqlite', { plugins: [entry] })
      const inDir = { ...loaded, baseDir: dir }
      await expect(openRuntime(inDir, { migrate: true, pluginRegistry: registry(notes) }), JSON.stringify(entry)).rejects.toThrow(message)
    }
  })

  it('stops the start when a plugin claims a route someone else registered, or gives a request field a default', async () => {
    const routePlugin = (name: string, method: 'get' | 'post', path: string, body?: object) =>
      definePlugin({
        name,
        version: '1',
        setup(host) {
          host.routes((api) => api[method](path, () => ({ mine: name }), body ? { body: body as never } : {}))
        },
      })
    const cases: [PluginDefinition<any>[], RegExp][] = [
      [[routePlugin('takeover', 'get', '/programs')], /^plugin takeover: the route GET \/api\/programs is already registered by core$/],
      [
        [routePlugin('other', 'get', '/programs/:programId')],
        /plugin other: the route GET \/api\/programs\/:programId is already registered by core/,
      ],
      [
        [routePlugin('first', 'post', '/notes'), routePlugin('second', 'post', '/notes')],
        /^plugin second: the route POST \/api\/notes is already registered by plugin first$/,
      ],
      [
        [routePlugin('defaulted', 'post', '/shade', Type.Object({ colour: Type.Optional(Type.String({ default: 'red' })) }))],
        /^plugin defaulted: the route POST \/api\/shade gives body\.colour a default/,
      ],
    ]
    for (const [plugins, message] of cases) {
      const loaded = await testConfig(dialect, { plugins: plugins.map((p) => ({ builtin: p.name })) })
      const rt = await openRuntime(loaded, { migrate: true, pluginRegistry: Object.assign({}, ...plugins.map(registry)) })
      try {
        await expect(startServer(rt), message.source).rejects.toThrow(message)
      } finally {
        await rt.close()
      }
    }
  })

  it('stops the start on a subscription to an event type no one raises, and takes one a later plugin declares', async () => {
    const listener = (type: string) =>
      definePlugin({
        name: 'listener',
        version: '1',
        setup(host) {
          host.on(type, () => {})
        },
      })
    const typo = await testConfig(dialect, { plugins: [{ builtin: 'listener' }] })
    await expect(openRuntime(typo, { migrate: true, pluginRegistry: registry(listener('partner.create')) })).rejects.toThrow(
      /^plugin listener: on\("partner\.create"\): no such event type \(did you mean partner\.created, .*\?\)$/,
    )
    const clash = definePlugin({ name: 'clash', version: '1', events: { 'partner.created': 'mine' }, setup() {} })
    await expect(
      openRuntime(await testConfig(dialect, { plugins: [{ builtin: 'clash' }] }), { migrate: true, pluginRegistry: registry(clash) }),
    ).rejects.toThrow(/^plugin clash: events: event type partner\.created is already raised by core$/)

    const both = await testConfig(dialect, { plugins: [{ builtin: 'listener' }, { builtin: 'notes' }] })
    runtime = await openRuntime(both, { migrate: true, pluginRegistry: { ...registry(listener('note.created')), ...registry(notes) } })
    expect(runtime.plugins.names.map((n) => n.name)).toEqual(['listener', 'notes'])
  })

  it('routes of tenants created later reach the plugin too (multi mode)', async () => {
    const loaded = await testConfig(dialect, {
      mode: 'multi',
      auth: { admin_api_keys: 'k'.repeat(16) + crypto.randomUUID() },
      plugins: [{ builtin: 'notes' }],
    })
    runtime = await openRuntime(loaded, { migrate: true, pluginRegistry: registry(notes) })
    const server = await startServer(runtime)
    try {
      await createTenant(runtime.database.db, runtime.bus, runtime.secrets, { slug: 'later' })
      const res = await fetch(`${server.url}/api/t/later/notes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${runtime.adminKeys[0]}` },
        body: JSON.stringify({ text: 'hello' }),
      })
      expect(await res.json()).toEqual({ notes: ['hello'] })
    } finally {
      await server.stop()
    }
  })
})
