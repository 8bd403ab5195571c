/**
 * A webhook receiver on loopback that records every request and answers as the test says: a status,
 * or silence longer than the sender's timeout.
 */
export interface Received {
  method: string
  url: string
  headers: Record<string, string>
  body: string
  at: number
  /** The status it was answered with (set once answered). */
  answered?: number
}

export interface Receiver {
  url: string
  received: Received[]
  /** What to do with the next requests, in order; after them, `otherwise`. */
  plan: ('fail' | 'hang' | 'gone' | 'redirect')[]
  otherwise: 'ok' | 'fail'
  /** Milliseconds to wait before answering 'ok'. */
  delayMs: number
  stop(): void
  /** How many 2xx answers each webhook-id got. */
  successesById(): Map<string, number>
}

export function startReceiver(): Receiver {
  const receiver: Receiver = {
    url: '',
    received: [],
    plan: [],
    otherwise: 'ok',
    delayMs: 0,
    stop: () => server.stop(true),
    successesById() {
      const counts = new Map<string, number>()
      for (const r of receiver.received) {
        const id = r.headers['webhook-id'] ?? r.headers['x-openpartner-delivery'] ?? ''
        if (r.answered && r.answered < 300) counts.set(id, (counts.get(id) ?? 0) + 1)
      }
      return counts
    },
  }
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 30,
    async fetch(request) {
      const body = await request.text()
      const entry: Received = { method: request.method, url: request.url, headers: request.headers.toJSON(), body, at: Date.now() }
      receiver.received.push(entry)
      const step = receiver.plan.shift() ?? receiver.otherwise
      if (step === 'hang') await new Promise((r) => setTimeout(r, 2_000))
      if (step === 'ok' && receiver.delayMs) await new Promise((r) => setTimeout(r, receiver.delayMs))
      const response =
        step === 'gone'
          ? new Response('gone', { status: 410 })
          : step === 'redirect'
            ? new Response(null, { status: 302, headers: { location: 'http://127.0.0.1:1/' } })
            : new Response(step === 'ok' ? 'ok' : 'nope', { status: step === 'ok' ? 200 : 500 })
      entry.answered = step === 'hang' ? undefined : response.status
      return response
    },
  })
  receiver.url = `http://127.0.0.1:${server.port}/hooks`
  return receiver
}
