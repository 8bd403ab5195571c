import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { addressGroup, clientAddress } from '../src/http/client-address.ts'
import { DIALECTS } from './support/databases.ts'
import { startTestServer, type TestServer } from './support/server.ts'

describe.each(DIALECTS)('HTTP conventions on %s', (dialect) => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer(dialect, { server: { host: '127.0.0.1', port: 0, body_limit_bytes: 4096 } })
  })
  afterAll(() => server.stop())

  it('/health answers while the process lives, /ready when the database answers', async () => {
    const health = await server.call('GET', '/health')
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'ok' })
    expect(await (await server.call('GET', '/ready')).json()).toEqual({ status: 'ready' })
  })

  it('echoes a sane X-Request-Id and makes one up otherwise, on errors too', async () => {
    const echoed = await server.call('GET', '/health', { headers: { 'x-request-id': 'trace-123' } })
    expect(echoed.headers.get('x-request-id')).toBe('trace-123')
    const hostile = await server.call('GET', '/nowhere', { headers: { 'x-request-id': 'a b<script>' } })
    expect(hostile.status).toBe(404)
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9A-Z]{26}$/)
  })

  it('answers unknown routes, malformed JSON, bad fields and big bodies with {error, detail}', async () => {
    const cases: [Response, number, string, RegExp?][] = [
      [await server.call('GET', '/nowhere'), 404, 'not_found', /GET \/nowhere/],
      [await server.call('DELETE', '/api/tenant'), 404, 'not_found'],
      [await server.call('POST', '/api/api-keys', { key: server.adminKey, body: '{"name":' }), 400, 'malformed_body'],
      [await server.call('POST', '/api/api-keys', { key: server.adminKey, body: { name: 7 } }), 400, 'invalid_request', /body\.name/],
      [
        await server.call('POST', '/api/api-keys', { key: server.adminKey, body: { name: 'x', admin: true } }),
        400,
        'invalid_request',
        /body\.admin/,
      ],
      [
        await server.call('POST', '/api/api-keys', { key: server.adminKey, body: { name: 'x', scopes: ['root'] } }),
        400,
        'invalid_request',
        /body\.scopes\.0: must be one of/,
      ],
      [await server.call('POST', '/api/api-keys', { key: server.adminKey, body: { name: 'x'.repeat(5000) } }), 413, 'payload_too_large'],
      [await server.call('GET', '/api/api-keys?limit=0', { key: server.adminKey }), 400, 'invalid_request', /query\.limit/],
      [await server.call('GET', '/api/api-keys?cursor=bm9wZQ', { key: server.adminKey }), 400, 'invalid_cursor'],
      // PostgreSQL cannot store a NUL: both databases refuse it before a handler runs.
      [
        await server.call('POST', '/api/api-keys', { key: server.adminKey, body: { name: 'a\u0000b' } }),
        400,
        'invalid_request',
        /body\.name: text may not contain the NUL/,
      ],
      [await server.call('GET', '/api/partners?email=a%00b', { key: server.adminKey }), 400, 'invalid_request', /query\.email/],
      [
        await server.call('POST', '/api/api-keys', {
          key: server.adminKey,
          body: `{"name":"x","scopes":${'['.repeat(40)}${']'.repeat(40)}}`,
        }),
        400,
        'invalid_request',
        /body\.scopes(\.0)+: nested deeper than 32 levels/,
      ],
    ]
    for (const [res, status, error, detail] of cases) {
      const body = await res.json()
      expect({ status: res.status, error: body.error }).toEqual({ status, error })
      expect(typeof body.detail).toBe('string')
      if (detail) expect(body.detail).toMatch(detail)
      expect(JSON.stringify(body)).not.toMatch(/at .*\.ts|select |insert /i)
    }
    // Nothing was written by the refused requests.
    const keys = await (await server.call('GET', '/api/api-keys', { key: server.adminKey })).json()
    expect(keys.apiKeys.map((k: { name: string }) => k.name)).toEqual(['bootstrap admin'])
  })

  it('measures bodies sent without Content-Length (chunked) against the same limit', async () => {
    const chunked = (text: string) =>
      fetch(`${server.url}/api/api-keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.adminKey}`, 'content-type': 'application/json' },
        body: new ReadableStream({
          start(c) {
            c.enqueue(new TextEncoder().encode(text))
            c.close()
          },
        }),
        duplex: 'half',
      } as RequestInit)
    const big = await chunked(JSON.stringify({ name: 'x'.repeat(6000) }))
    expect(big.status).toBe(413)
    expect(await big.json()).toMatchObject({ error: 'payload_too_large' })
    const small = await chunked(JSON.stringify({ name: 'streamed', scopes: ['links:read'] }))
    expect(small.status).toBe(201)
    expect(await small.json()).toMatchObject({ name: 'streamed' })
  })

  it('pages with ?cursor&limit → nextCursor, null on the last page', async () => {
    for (const name of ['a', 'b', 'c', 'd']) {
      expect((await server.call('POST', '/api/api-keys', { key: server.adminKey, body: { name, scopes: ['partners:read'] } })).status).toBe(
        201,
      )
    }
    const names: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const res: Response = await server.call('GET', `/api/api-keys?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: server.adminKey })
      const page = await res.json()
      names.push(...page.apiKeys.map((k: { name: string }) => k.name))
      cursor = page.nextCursor
      pages++
    } while (cursor)
    expect(names).toEqual(['bootstrap admin', 'streamed', 'a', 'b', 'c', 'd'])
    expect(pages).toBe(3)
  })

  it('exposes Prometheus metrics labelled by route pattern, not raw path', async () => {
    await server.call('GET', '/no/such/path/42')
    const res = await server.call('GET', '/metrics')
    expect(res.headers.get('content-type')).toMatch(/text\/plain/)
    const text = await res.text()
    expect(text).toMatch(/partnerd_http_requests_total\{method="GET",route="\/health",status="200"\} \d+/)
    expect(text).toMatch(/partnerd_http_requests_total\{method="GET",route="unmatched",status="404"\}/)
    expect(text).not.toContain('/no/such/path/42')
    expect(text).toContain('partnerd_process_resident_memory_bytes')
  })

  it('publishes an OpenAPI document generated from the routes, with each route’s auth', async () => {
    const doc = await (await server.call('GET', '/api/openapi.json')).json()
    expect(doc.openapi).toMatch(/^3\./)
    expect(doc.components.securitySchemes).toHaveProperty('bearerAuth')
    const mint = doc.paths['/api/api-keys'].post
    expect(mint.security).toEqual([{ bearerAuth: ['*'] }, { apiKeyHeader: ['*'] }, { sessionCookie: ['*'] }])
    expect(doc.components.securitySchemes.sessionCookie).toMatchObject({ in: 'cookie', name: 'op_session' })
    expect(mint.requestBody.content['application/json'].schema.properties).toHaveProperty('scopes')
    expect(doc.paths['/api/tenant'].get.security).toEqual([{ bearerAuth: [] }, { apiKeyHeader: [] }, { sessionCookie: [] }])
    expect(doc.paths['/api/auth/sign-in/email'].post.security).toBeUndefined()
    expect(doc.paths['/health'].get.security).toBeUndefined()
    expect(Object.keys(doc.paths)).not.toContain('/api/*')
  })
})

describe('client address', () => {
  const peer = { requestIP: () => ({ address: '10.0.0.9' }) }
  const request = new Request('http://localhost/x', { headers: { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' } })

  it('is the socket peer unless trusted proxies forwarded it, so clients cannot forge it', () => {
    expect(clientAddress(request, peer, false)).toBe('10.0.0.9')
    expect(clientAddress(request, peer, 0)).toBe('10.0.0.9')
    expect(clientAddress(new Request('http://localhost/x'), peer, true)).toBe('10.0.0.9')
  })

  it('behind N proxies is the Nth entry from the right: what the client wrote before it is ignored', () => {
    // One proxy appended the address it saw (10.0.0.1) to the client's own header.
    expect(clientAddress(request, peer, true)).toBe('10.0.0.1')
    expect(clientAddress(request, peer, 1)).toBe('10.0.0.1')
    // Two: the outer one saw the client, the inner one (the peer's) saw the outer one.
    expect(clientAddress(request, peer, 2)).toBe('203.0.113.7')
    // A proxy that replaces the header leaves fewer entries: the leftmost is the client.
    expect(clientAddress(new Request('http://localhost/x', { headers: { 'x-forwarded-for': ' 198.51.100.4 ' } }), peer, 2)).toBe(
      '198.51.100.4',
    )
    expect(clientAddress(new Request('http://localhost/x', { headers: { 'x-forwarded-for': ', ,' } }), peer, 1)).toBe('10.0.0.9')
  })

  it('counts as one client per IPv4 address, or per IPv6 /64 however the address is written', () => {
    expect(addressGroup('203.0.113.7')).toBe('203.0.113.7')
    expect(addressGroup('::ffff:203.0.113.7')).toBe('203.0.113.7')
    const group = '2001:db8:0:1::/64'
    for (const address of [
      '2001:db8:0:1::1',
      '2001:DB8::1:0:0:0:ffff',
      '2001:0db8:0000:0001:1234:5678:9abc:def0',
      '2001:db8:0:1::1%eth0',
    ]) {
      expect(addressGroup(address)).toBe(group)
    }
    expect(addressGroup('2001:db8:0:2::1')).not.toBe(group)
    expect(addressGroup('::1')).toBe('0:0:0:0::/64')
    expect(addressGroup('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64')
    expect(addressGroup('not:an::address::')).toBe('not:an::address::')
  })
})
