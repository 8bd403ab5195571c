/**
 * Domain events: what happened in a tenant (`tenant.created`, `api_key.revoked`, …), told to whoever
 * subscribed through the plugin host. Events raised inside withTenant are published only after the
 * transaction commits, so a subscriber never hears of a change that was rolled back. A failing
 * subscriber is logged and does not affect the request or the other subscribers.
 *
 * The bus knows every type there is (the core's catalogue, and what plugins declare): subscribing
 * to, or raising, any other type is a mistake it refuses, since such a handler would never run.
 */
import type { Logger } from '../log/logger.ts'
import { CORE_EVENTS, EVENT_TYPE } from './catalogue.ts'

export interface DomainEvent<T = unknown> {
  type: string
  tenantId: string
  occurredAt: string
  data: T
}

export type DomainEventHandler = (event: DomainEvent) => void | Promise<void>

export class DomainEventBus {
  readonly #handlers = new Map<string, DomainEventHandler[]>()
  /** Every known type, what it means, and who raises it (`core`, `plugin <name>`). */
  readonly #types = new Map<string, { description: string; owner: string }>(
    Object.entries(CORE_EVENTS).map(([type, description]) => [type, { description, owner: 'core' }]),
  )
  constructor(private readonly log: Logger) {}

  /** Adds a plugin's own event types; throws on a malformed one or one already known. */
  declare(owner: string, types: Record<string, string>): void {
    for (const [type, description] of Object.entries(types)) {
      if (!EVENT_TYPE.test(type)) throw new Error(`event type ${JSON.stringify(type)} is not of the form area.what_happened`)
      const known = this.#types.get(type)
      if (known) throw new Error(`event type ${type} is already raised by ${known.owner}`)
      this.#types.set(type, { description, owner })
    }
  }

  /** Every known event type with what it means, core types first. */
  types(): { type: string; description: string }[] {
    return [...this.#types].map(([type, { description }]) => ({ type, description }))
  }

  isKnown(type: string): boolean {
    return this.#types.has(type)
  }

  /** `type` is a known event type or `*` for every event. */
  subscribe(type: string, handler: DomainEventHandler): void {
    if (type !== '*' && !this.#types.has(type)) throw new Error(`no event type ${type}`)
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
