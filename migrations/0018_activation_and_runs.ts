import type { Kysely } from 'kysely'

/**
 * Two facts partnerd did not keep and OpenPartner's clients read: when a partner accepted its
 * invitation (its portal user's first sign-in, or at once for a partner created without one), and
 * which payout run made a payout (`runId`, as a run answers it).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('partners').addColumn('activated_at', 'text').execute()
  await db.schema.alterTable('payouts').addColumn('run_id', 'text').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('payouts').dropColumn('run_id').execute()
  await db.schema.alterTable('partners').dropColumn('activated_at').execute()
}
