/**
 * hello: a small external plugin showing the whole host API a plugin author needs: validated config,
 * its own tenant-owned table with a migration, a route behind the auth guard, an error the core maps
 * to {error, detail}, a domain event of its own, and a subscription.
 *
 * It is loaded from disk, also by the compiled binary, so it imports nothing at run time: types come
 * from partnerd with `import type` (erased when the file is loaded), everything else from `host`.
 *
 *   plugins:
 *     - path: ./examples/plugins/hello/index.ts
 *       config:
 *         greeting: Howdy
 */
import type { PluginDefinition } from '../../../src/plugins/contract.ts'

const hello: PluginDefinition = {
  name: 'hello',
  version: '1.0.0',
  // A function of the schema builder, because an external file cannot import TypeBox itself.
  config: (t) => t.Object({ greeting: t.String({ default: 'Hello', minLength: 1 }) }, { additionalProperties: false }),
  // The domain events it raises: others may subscribe to them, and so may webhook endpoints.
  events: { 'hello.visited': 'Someone was greeted' },

  setup(host) {
    const { greeting } = host.config as { greeting: string }

    // The plugin's own table. Tenant-owned, so it carries tenant_id and gets row-level security on
    // PostgreSQL; its history is kept apart from the core's (partnerd_migrations_plugin_hello).
    host.migrations({
      '0001_visits': {
        async up(db) {
          await db.schema
            .createTable('hello_visits')
            .addColumn('id', 'text', (c) => c.primaryKey())
            .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id').onDelete('cascade'))
            .addColumn('name', 'text', (c) => c.notNull())
            .addColumn('created_at', 'text', (c) => c.notNull())
            .execute()
          await db.schema.createIndex('hello_visits_tenant').on('hello_visits').columns(['tenant_id', 'id']).execute()
          await host.isolateTenantRows(db, 'hello_visits')
        },
        async down(db) {
          await db.schema.dropTable('hello_visits').execute()
        },
      },
    })

    // Mounted under the tenant API base: /api/hello, or /api/t/<slug>/hello in multi mode.
    host.routes((api) =>
      api.post(
        '/hello',
        async ({ body, withTenant }) => {
          if (body.name.toLowerCase() === 'nobody') throw new host.AppError(400, 'unknown_name', 'say hello to somebody')
          return withTenant(async (scope) => {
            const db = scope.db as any // the core's row types do not know plugin tables
            await db
              .insertInto('hello_visits')
              .values({ id: crypto.randomUUID(), tenant_id: scope.tenantId, name: body.name, created_at: new Date().toISOString() })
              .execute()
            const { visits } = await db
              .selectFrom('hello_visits')
              .select((eb: any) => eb.fn.countAll().as('visits'))
              .where('tenant_id', '=', scope.tenantId)
              .executeTakeFirstOrThrow()
            scope.emit('hello.visited', { name: body.name })
            return { message: `${greeting}, ${body.name}!`, visits: Number(visits) }
          })
        },
        {
          auth: true,
          body: host.t.Object({ name: host.t.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
          detail: { tags: ['Hello (example plugin)'], summary: 'Greet someone and count the greetings of this tenant' },
        },
      ),
    )

    // Told after the change committed; a failing handler is logged and harms nothing else.
    host.on('tenant.created', (event) => host.log.info({ tenantId: event.tenantId }, 'hello: a new tenant to greet'))
  },
}

export default hello
