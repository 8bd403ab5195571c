/**
 * A webhook receiver on loopback that records every request and answers as the test says: a status,
 * or silence longer than the sender's timeout.
 */
export interface Received {
  headers: Record<string, string>
  body: string
  at: number
}

export interface Receiver {
  url: string
  received: Received[]
  /** What to do with the next requests, in order; after them, `otherwise`. */
  plan: ('fail' | 'hang' | 'gone' | 'redirect')[]
  otherwise: 'ok' | 'fail'
  stop(): void
}

export function startReceiver(): Receiver {
  const receiver: Receiver = { url: '', received: [], plan: [], otherwise: 'ok', stop: () => server.stop(true) }
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 30,
    async fetch(request) {
      const body = await request.text()
      receiver.received.push({ headers: request.headers.toJSON(), body, at: Date.now() })
      const step = receiver.plan.shift() ?? receiver.otherwise
      if (step === 'hang') await new Promise((r) => setTimeout(r, 2_000))
      if (step === 'gone') return new Response('gone', { status: 410 })
      if (step === 'redirect') return new Response(null, { status: 302, headers: { location: 'http://127.0.0.1:1/' } })
      return new Response(step === 'ok' ? 'ok' : 'nope', { status: step === 'ok' ? 200 : 500 })
    },
  })
  receiver.url = `http://127.0.0.1:${server.port}/hooks`
  return receiver
}
