/**
 * The access log (src/log/access-log.ts): a JSON line per answered request with its id, method,
 * route pattern, status, time and client address, from Bun's router (/health) and from the app alike;
 * written in batches; turned down by logging.access and logging.access_sample, off with the level.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { parseConfig } from '../src/config/load.ts'
import type { Config } from '../src/config/schema.ts'
import { createAccessLog } from '../src/log/access-log.ts'
import { startTestServer, type TestServer } from './support/server.ts'
import { until } from './support/until.ts'

type Line = {
  level: number
  time: number
  requestId: string
  method: string
  route: string
  status: number
  ms: number
  ip?: string
  msg: string
}

/** An access log on the given settings, and what it wrote: each write, and the lines in them. */
function captured(settings: Partial<Config['logging']>) {
  const writes: string[] = []
  const log = createAccessLog(
    { level: 'info', format: 'json', access: 'all', access_sample: 1, ...settings },
    {
      write: (text: string) => void writes.push(text),
    },
  )
  const lines = () =>
    writes
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Line)
  return { log, writes, lines }
}

let server: TestServer | undefined
afterEach(async () => {
  await server?.stop()
  server = undefined
})

async function serverWith(settings: Partial<Config['logging']>) {
  const sink = captured(settings)
  server = await startTestServer('sqlite', { logging: { level: 'info', ...settings } }, { accessLog: sink.log })
  return sink
}

describe('the access log', () => {
  it('writes a line per request, from the native routes and the app, with the request id the client saw', async () => {
    const { lines } = await serverWith({})
    const health = await server!.call('GET', '/health', { headers: { 'x-request-id': 'probe-1' } })
    const denied = await server!.call('GET', '/api/tenant')
    const missing = await server!.call('GET', '/nowhere/at/all')
    const logged = await until('three lines', () => (lines().length >= 3 ? lines() : undefined))
    expect(logged).toHaveLength(3)
    const [h, d, m] = logged
    expect(h).toMatchObject({
      level: 30,
      msg: 'request',
      requestId: 'probe-1',
      method: 'GET',
      route: '/health',
      status: 200,
      ip: '127.0.0.1',
    })
    expect(d).toMatchObject({ requestId: denied.headers.get('x-request-id'), route: '/api/tenant', status: 401 })
    // The pattern, never the raw path: a scanner cannot fill the log's route field with its own words.
    expect(m).toMatchObject({ requestId: missing.headers.get('x-request-id'), route: 'unmatched', status: 404 })
    for (const line of logged) {
      expect(line.ms).toBeGreaterThanOrEqual(0)
      expect(Math.abs(line.time - Date.now())).toBeLessThan(60_000)
    }
    expect(health.status).toBe(200)
  })

  it('writes the lines of one turn of the event loop together, and each turn’s at its end', async () => {
    const { log, writes, lines } = captured({})
    for (let i = 0; i < 3; i++) log!.write({ requestId: `r${i}`, method: 'GET', route: '/health', status: 200, ms: 0.1, ip: undefined })
    expect(writes).toHaveLength(0)
    await new Promise((resolve) => setImmediate(resolve))
    expect(writes).toHaveLength(1)
    expect(lines().map((l) => l.requestId)).toEqual(['r0', 'r1', 'r2'])
    expect(lines()[0]).not.toHaveProperty('ip')
  })

  it('quotes what a client controls: a forwarded address cannot break the line', async () => {
    const { log, lines } = captured({})
    log!.write({ requestId: 'r', method: 'GET', route: '/r/:linkKey', status: 302, ms: 1, ip: '1.2.3.4", "admin": true, "x": "' })
    await new Promise((resolve) => setImmediate(resolve))
    expect(lines()[0]!.ip).toBe('1.2.3.4", "admin": true, "x": "')
    expect(lines()[0]).not.toHaveProperty('admin')
  })

  it('logging.access: errors keeps only requests answered 4xx and 5xx', async () => {
    const { lines } = await serverWith({ access: 'errors' })
    await server!.call('GET', '/health')
    await server!.call('GET', '/ready')
    await server!.call('GET', '/api/tenant')
    const logged = await until('the 401', () => (lines().length >= 1 ? lines() : undefined))
    await server!.call('GET', '/health')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(logged.map((l) => [l.route, l.status])).toEqual([['/api/tenant', 401]])
    expect(lines()).toHaveLength(1)
  })

  it('logging.access_sample: N keeps one in N of the answers below 400, and every error', async () => {
    const { lines } = await serverWith({ access_sample: 3 })
    for (let i = 0; i < 9; i++) await server!.call('GET', '/health')
    await server!.call('GET', '/api/tenant')
    await server!.call('GET', '/api/tenant')
    const logged = await until('five lines', () => (lines().length >= 5 ? lines() : undefined))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(lines()).toHaveLength(5)
    expect(logged.filter((l) => l.route === '/health')).toHaveLength(3)
    expect(logged.filter((l) => l.status === 401)).toHaveLength(2)
  })

  it('is off with logging.access: none, and with a level above info', () => {
    expect(captured({ access: 'none' }).log).toBeUndefined()
    expect(captured({ level: 'warn' }).log).toBeUndefined()
    expect(captured({ level: 'debug' }).log).toBeDefined()
  })

  it('refuses a setting it does not know, naming the key', () => {
    expect(() => parseConfig('logging:\n  access: loud\n')).toThrow(/logging\.access/)
    expect(() => parseConfig('logging:\n  access_sample: 0\n')).toThrow(/logging\.access_sample/)
    expect(parseConfig('logging:\n  access: errors\n').logging).toMatchObject({ access: 'errors', access_sample: 1 })
  })
})
