import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
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

  it('routes of tenants created later reach the plugin too (multi mode)', async () => {
    const loaded = await testConfig(dialect, {
      mode: 'multi',
      auth: { admin_api_keys: 'k'.repeat(16) + crypto.randomUUID() },
      plugins: [{ builtin: 'notes' }],
    })
    runtime = await openRuntime(loaded, { migrate: true, pluginRegistry: registry(notes) })
    const server = await startServer(runtime)
    try {
      await createTenant(runtime.database.db, runtime.bus, { slug: 'later' })
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
