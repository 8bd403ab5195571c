/**
 * Domain events: what happened in a tenant (`tenant.created`, `api_key.revoked`, …), told to whoever
 * subscribed through the plugin host. Events raised inside withTenant are published only after the
 * transaction commits, so a subscriber never hears of a change that was rolled back. A failing
 * subscriber is logged and does not affect the request or the other subscribers.
 */
import type { Logger } from '../log/logger.ts'

export interface DomainEvent<T = unknown> {
  type: string
  tenantId: string
  occurredAt: string
  data: T
}

export type DomainEventHandler = (event: DomainEvent) => void | Promise<void>

export class DomainEventBus {
  readonly #handlers = new Map<string, DomainEventHandler[]>()
  constructor(private readonly log: Logger) {}

  /** `type` is an event type or `*` for every event. */
  subscribe(type: string, handler: DomainEventHandler): void {
    this.#handlers.set(type, [...(this.#handlers.get(type) ?? []), handler])
  }

  /** Whether someone listens to exactly this type (not counting `*` listeners). */
  hasSubscribers(type: string): boolean {
    return (this.#handlers.get(type)?.length ?? 0) > 0
  }

  /** Runs every matching handler; resolves when all have settled. */
  async publish(events: DomainEvent[]): Promise<void> {
    const runs: Promise<unknown>[] = []
    for (const event of events) {
      for (const handler of [...(this.#handlers.get(event.type) ?? []), ...(this.#handlers.get('*') ?? [])]) {
        runs.push(
          Promise.resolve()
            .then(() => handler(event))
            .catch((err) => this.log.error({ err, event: event.type }, 'domain event subscriber failed')),
        )
      }
    }
    await Promise.all(runs)
  }
}
