/**
 * What every console page reads besides its own data, remembered per tenant for a few seconds so
 * that a page costs its own queries only: the navigation's badges (commissions flagged for review,
 * payouts pending), the organization's programs (named in lists, offered in filters) and the names
 * of the partners a list shows.
 *
 * Forgotten on this instance as soon as a change commits, by the domain events that report one:
 * every `commission.*` and `payout.*` event for the badges, every `program.*` event for the
 * programs, every `partner.*` event for the partners' names, `tenant.imported` for all of them. A
 * reviewer who clears a commission sees the badge drop on the page the redirect shows. A change made elsewhere (another instance on the same PostgreSQL,
 * the CLI) shows within CONSOLE_READS_MS. A badge a few seconds behind another instance is harmless:
 * it only says where work waits, and the queue itself is always read afresh.
 */
import { Remembered } from '../cache.ts'
import { countFlagged } from '../commissions/service.ts'
import { fetchAll } from '../db/pagination.ts'
import type { TenantScope } from '../db/with-tenant.ts'
import type { DomainEvent, DomainEventBus } from '../domain-events/bus.ts'
import type { Partner } from '../partners/service.ts'
import { countPayouts } from '../payouts/service.ts'
import { listPrograms, type Program } from '../programs/service.ts'
import type { TenantPage } from './context.ts'

/** The longest a change made on another instance goes unseen by the console's badges and program names. */
export const CONSOLE_READS_MS = 5_000

/** The navigation counts up to this many ("99+"), so a page never pays for a long queue. */
export const BADGE_CAP = 100

export interface Badges {
  /** Commissions flagged for review, up to BADGE_CAP. */
  flagged: number
  pendingPayouts: number
}

/** How a list names a partner (partnerLabel: its name, else its email). */
export type PartnerName = Pick<Partner, 'id' | 'name' | 'email'>

export class ConsoleReads {
  readonly #badges = new Remembered<Badges>(CONSOLE_READS_MS)
  readonly #programs = new Remembered<Program[]>(CONSOLE_READS_MS)
  /** By `<tenant id>\n<partner id>`. */
  readonly #partnerNames = new Remembered<PartnerName>(CONSOLE_READS_MS)

  constructor(bus: DomainEventBus) {
    // By area rather than by type: an event type added to an area later forgets them too.
    bus.subscribe('*', (event: DomainEvent) => {
      const area = event.type.slice(0, event.type.indexOf('.'))
      if (area === 'commission' || area === 'payout' || event.type === 'tenant.imported') this.#badges.forget()
      if (area === 'program' || event.type === 'tenant.imported') this.#programs.forget()
      if (area === 'partner' || event.type === 'tenant.imported') this.#partnerNames.forget()
    })
  }

  /** The page's tenant's badges, counted in a transaction of their own when they are not remembered. */
  async badges(page: Pick<TenantPage, 'tenant' | 'withTenant'>): Promise<Badges> {
    const found = await this.#badges.get(page.tenant.id, () =>
      page.withTenant(async (scope) => ({
        flagged: await countFlagged(scope, BADGE_CAP),
        pendingPayouts: await countPayouts(scope, 'pending'),
      })),
    )
    return found!
  }

  /** Every program of the tenant (a tenant has few), read through the open transaction when not remembered. */
  async programs(scope: TenantScope): Promise<Program[]> {
    const found = await this.#programs.get(scope.tenantId, () => fetchAll((request) => listPrograms(scope, request)))
    return found!
  }

  /** The named partners' names, those not remembered read in one statement through the open transaction. */
  async partnerNames(scope: TenantScope, ids: readonly string[]): Promise<Map<string, PartnerName>> {
    const prefix = `${scope.tenantId}\n`
    const found = await this.#partnerNames.getMany(new Set(ids.map((id) => prefix + id)), async (missing) => {
      const rows = await scope.db
        .selectFrom('partners')
        .select(['id', 'name', 'email'])
        .where('tenant_id', '=', scope.tenantId)
        .where(
          'id',
          'in',
          missing.map((key) => key.slice(prefix.length)),
        )
        .execute()
      return new Map(rows.map((row) => [prefix + row.id, row]))
    })
    return new Map([...found.values()].map((p) => [p.id, p]))
  }
}
