/**
 * The scheduled approval of matured commissions, every commissions.approve_interval_seconds, tenant by
 * tenant. Several instances may run it at once: approving is guarded by status, so the second one
 * finds nothing left to do.
 */
import type { Kysely } from 'kysely'
import type { DB } from '../db/schema.ts'
import type { WithTenant } from '../db/with-tenant.ts'
import type { Logger } from '../log/logger.ts'
import { approveMatured } from './service.ts'

export function startApprovalJob(deps: {
  db: Kysely<DB>
  withTenant: WithTenant
  log: Logger
  intervalSeconds: number
}): () => Promise<void> {
  if (deps.intervalSeconds <= 0) return async () => {}
  let running: Promise<void> | undefined
  const runOnce = async () => {
    const tenants = await deps.db.selectFrom('tenants').select('id').execute()
    for (const { id } of tenants) {
      const approved = await deps.withTenant(id, (scope) => approveMatured(scope))
      if (approved > 0) deps.log.info({ tenantId: id, approved }, 'matured commissions approved')
    }
  }
  const timer = setInterval(() => {
    if (running) return
    running = runOnce()
      .catch((err) => deps.log.error({ err }, 'approving matured commissions failed'))
      .finally(() => {
        running = undefined
      })
  }, deps.intervalSeconds * 1000)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
