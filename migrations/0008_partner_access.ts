import { type Kysely, sql } from 'kysely'

/**
 * Partners as principals: a portal user's membership names the partner it is (role `partner`), and an
 * API key may be bound to one partner (it acts only as that partner) or to one program.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('memberships').addColumn('partner_id', 'text').execute()
  await db.schema.alterTable('api_keys').addColumn('partner_id', 'text').execute()
  await db.schema.alterTable('api_keys').addColumn('program_id', 'text').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [table, column] of [
    ['memberships', 'partner_id'],
    ['api_keys', 'partner_id'],
    ['api_keys', 'program_id'],
  ] as const) {
    await sql`alter table ${sql.table(table)} drop column ${sql.ref(column)}`.execute(db)
  }
}
