/**
 * The SSRF guard judges an address by its bytes: every spelling the URL parser accepts for an IPv4
 * address (decimal, octal, hex, short forms) is that address, and every IPv6 form that carries an
 * IPv4 address (IPv4-compatible, -mapped, -translated, NAT64, 6to4, Teredo) is judged as the address
 * it carries. Webhooks, postbacks and an automation platform's REST hook all refuse the same URLs,
 * before any connection: nothing here is ever sent anywhere but the loopback receiver it starts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AppError } from '../src/errors.ts'
import { assertPublicDestination, nonPublic, parseWebhookUrl } from '../src/webhooks/ssrf.ts'
import { DIALECTS } from './support/databases.ts'
import { type Receiver, startReceiver } from './support/receiver.ts'
import { startTestServer, type TestServer } from './support/server.ts'

/** Addresses as the URL parser or the resolver writes them, and the IPv4 address each is judged as. */
const CLASSIFIED: [address: string, refused: boolean, mentions?: string][] = [
  ['127.0.0.1', true, 'loopback'],
  ['127.255.255.254', true, 'loopback'],
  ['10.0.0.1', true, 'private'],
  ['172.31.255.255', true, 'private'],
  ['192.168.1.1', true, 'private'],
  ['169.254.169.254', true, 'link-local'],
  ['100.64.0.1', true, 'shared'],
  ['0.0.0.0', true, 'this network'],
  ['224.0.0.1', true, 'multicast'],
  ['255.255.255.255', true, 'broadcast'],
  ['198.18.0.1', true, 'benchmarking'],
  ['192.0.2.1', true, 'documentation'],
  ['8.8.8.8', false],
  ['172.32.0.1', false],
  ['100.128.0.1', false],
  ['::1', true, 'loopback'],
  ['::', true, 'unspecified'],
  ['fe80::1', true, 'link-local'],
  ['fe80::1%eth0', true, 'link-local'],
  ['fd12:3456::1', true, 'unique local'],
  ['ff02::1', true, 'multicast'],
  ['2001:db8::1', true, 'documentation'],
  ['2606:4700:4700::1111', false],
  // IPv4-compatible ::a.b.c.d
  ['::7f00:1', true, '127.0.0.1'],
  ['::a9fe:a9fe', true, '169.254.169.254'],
  ['::808:808', false],
  // IPv4-mapped ::ffff:a.b.c.d, in every spelling the parser reads
  ['::ffff:7f00:1', true, '127.0.0.1'],
  ['::ffff:127.0.0.1', true, '127.0.0.1'],
  ['0:0:0:0:0:ffff:7f00:1', true, '127.0.0.1'],
  ['::FFFF:A9FE:A9FE', true, '169.254.169.254'],
  ['::ffff:a00:1', true, '10.0.0.1'],
  ['::ffff:808:808', false],
  // IPv4-translated ::ffff:0:a.b.c.d
  ['::ffff:0:7f00:1', true, '127.0.0.1'],
  ['::ffff:0:a9fe:a9fe', true, '169.254.169.254'],
  ['::ffff:0:808:808', false],
  // NAT64, the well-known prefix and the local-use one
  ['64:ff9b::7f00:1', true, '127.0.0.1'],
  ['64:ff9b::a9fe:a9fe', true, '169.254.169.254'],
  ['64:ff9b::c0a8:101', true, '192.168.1.1'],
  ['64:ff9b::808:808', false],
  ['64:ff9b:1::a9fe:a9fe', true, '169.254.169.254'],
  ['64:ff9b:1::808:808', false],
  ['64:ff9b:1:ab:cd::808:808', true, 'local-use NAT64'],
  // 6to4: the address in bits 16-48
  ['2002:7f00:1::', true, '127.0.0.1'],
  ['2002:a9fe:a9fe::1', true, '169.254.169.254'],
  ['2002:a00:1:1::1', true, '10.0.0.1'],
  ['2002:808:808::1', false],
  // Teredo: the client is the last 32 bits, flipped (RFC 4380's example is 192.0.2.45)
  ['2001:0:4136:e378:8000:63bf:3fff:fdd2', true, '192.0.2.45'],
  ['2001:0:4136:e378:8000:63bf:80ff:fffe', true, '127.0.0.1'],
  ['2001:0:4136:e378:8000:63bf:5601:5601', true, '169.254.169.254'],
  ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', false],
  // Not addresses: refused, never taken for public.
  ['localhost', true, 'not an IP address'],
  ['1.2.3', true, 'not an IP address'],
]

describe('the address classifier', () => {
  it.each(CLASSIFIED)('%s: refused %s', (address, refused, mentions) => {
    const why = nonPublic(address)
    if (refused) {
      expect(why, address).toBeDefined()
      if (mentions) expect(why).toContain(mentions)
    } else expect(why, address).toBeUndefined()
  })

  it('reads every spelling of an IPv4 address as the address, with nothing allowed', async () => {
    const refusal = async (url: string, allow: string[] = []) => {
      try {
        await assertPublicDestination(parseWebhookUrl(url), allow)
        return undefined
      } catch (err) {
        return err instanceof AppError ? err.code : String(err)
      }
    }
    for (const url of [
      'http://127.0.0.1/',
      'http://127.1/',
      'http://2130706433/',
      'http://017700000001/',
      'http://0x7f000001/',
      'http://0x7f.1/',
      'http://0177.0.0.1/',
      'http://127.0.0.1./',
      'http://%31%32%37.0.0.1/',
      'http://１２７.０.０.１/',
      'http://[::ffff:7f00:1]/',
      'http://[::127.0.0.1]/',
      'http://[64:ff9b::127.0.0.1]/',
      'http://2852039166/latest/meta-data',
      'http://0xa9.0xfe.0xa9.0xfe/',
    ]) {
      expect(await refusal(url), url).toBe('destination_not_allowed')
    }
    // Loopback allowed as 127.0.0.1 allows each spelling the parser reads as 127.0.0.1 ...
    for (const url of ['http://127.0.0.1:9/', 'http://127.1:9/', 'http://2130706433:9/', 'http://0x7f.1:9/']) {
      expect(await refusal(url, ['127.0.0.1']), url).toBeUndefined()
    }
    // ... but an IPv6 form carrying it is another host, refused; and another loopback address too.
    for (const url of ['http://[::ffff:127.0.0.1]/', 'http://[::127.0.0.1]/', 'http://[64:ff9b::7f00:1]/', 'http://127.0.0.2/']) {
      expect(await refusal(url, ['127.0.0.1']), url).toBe('destination_not_allowed')
    }
    // allow_hosts entries are read as the parser reads hosts.
    expect(await refusal('http://[::1]:9/', ['0:0:0:0:0:0:0:1'])).toBeUndefined()
  })
})

/** Refused on a server that allows 127.0.0.1, as the test configs do: the allowance must not leak. */
const REFUSED_URLS = [
  // loopback carried by IPv6, in every embedding
  'http://[::127.0.0.1]/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:7f00:1]/',
  'http://[0:0:0:0:0:ffff:127.0.0.1]/',
  'http://[::ffff:0:127.0.0.1]/',
  'http://[64:ff9b::127.0.0.1]/',
  'http://[64:ff9b:1::7f00:1]/',
  'http://[2002:7f00:1::]/',
  'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/',
  // the metadata service, plainly and carried
  'http://169.254.169.254/latest/meta-data',
  'http://[64:ff9b::a9fe:a9fe]/latest/meta-data',
  'http://[64:ff9b::169.254.169.254]/',
  'http://[::ffff:169.254.169.254]/',
  'http://[::FFFF:A9FE:A9FE]/',
  'http://[::169.254.169.254]/',
  'http://[::ffff:0:a9fe:a9fe]/',
  'http://[2002:a9fe:a9fe::1]/',
  'http://[2001:0:4136:e378:8000:63bf:5601:5601]/',
  'http://[64:ff9b:1::a9fe:a9fe]/',
  'http://2852039166/',
  'http://0xa9fea9fe/',
  'http://0251.0376.0251.0376/',
  'http://169.254.43518/',
  // private and shared ranges, carried and spelled oddly
  'http://[::ffff:10.0.0.1]/',
  'http://[64:ff9b::10.1.2.3]/',
  'http://[2002:c0a8:101::]/',
  'http://[64:ff9b::c0a8:1]/',
  'http://[::ffff:172.16.0.1]/',
  'http://[64:ff9b::6440:1]/',
  'http://10.1/',
  'http://0x0a.0.0.1/',
  'https://192.168.0.1:8443/',
  // other non-public targets
  'http://0/',
  'http://127.0.0.2/',
  'http://0x7f.0.0.2/',
  'http://[::1]/',
  'http://[::]/',
  'http://[fe80::1]/',
  'http://[fd00::1]/',
  'http://[ff02::1]/',
  'http://[64:ff9b:1:ab:cd::808:808]/',
]

describe.each(DIALECTS)('webhook, postback and REST-hook destinations on %s', (dialect) => {
  let server: TestServer
  let receiver: Receiver
  let partnerId: string
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await server.call(method, `/api${path}`, { key: server.adminKey, body })
    return { status: res.status, body: res.status === 204 ? null : await res.json() }
  }

  beforeAll(async () => {
    receiver = startReceiver()
    server = await startTestServer(dialect, {
      webhooks: { allow_hosts: ['127.0.0.1'], poll_interval_ms: 20 },
      plugins: [{ builtin: 'zapier' }],
    })
    partnerId = (await api('POST', '/partners', { email: 'ssrf@partners.example' })).body.id
  })
  afterAll(async () => {
    await server.stop()
    receiver.stop()
  })

  it(`refuses ${REFUSED_URLS.length} non-public URLs on every route that saves one, saving none`, async () => {
    const { body: hooksBefore } = await api('GET', '/webhooks')
    for (const url of REFUSED_URLS) {
      const attempts = {
        webhook: await api('POST', '/webhooks', { url, events: ['payout.paid'] }),
        postback: await api('POST', `/partners/${partnerId}/postbacks`, { url: `${url}?c={click_id}` }),
        zapier: await api('POST', '/integrations/zapier/hooks', { hookUrl: url, event: 'payout.paid' }),
      }
      for (const [route, res] of Object.entries(attempts)) {
        expect({ route, url, status: res.status, error: res.body.error }).toEqual({
          route,
          url,
          status: 400,
          error: 'destination_not_allowed',
        })
        expect(typeof res.body.detail).toBe('string')
      }
    }
    expect((await api('GET', '/webhooks')).body).toEqual(hooksBefore)
    expect((await api('GET', `/partners/${partnerId}/postbacks`)).body.postbacks).toEqual([])
  })

  it('refuses a changed URL as a new one, and keeps the loopback allowance for spellings of 127.0.0.1', async () => {
    const port = new URL(receiver.url).port
    const made = await api('POST', '/webhooks', { url: `http://127.1:${port}/hook`, events: ['payout.paid'] })
    expect(made.status, JSON.stringify(made.body)).toBe(201)
    expect(made.body.url).toBe(`http://127.0.0.1:${port}/hook`)
    const decimal = await api('POST', '/integrations/zapier/hooks', { hookUrl: `http://2130706433:${port}/zap`, event: 'payout.paid' })
    expect(decimal.status, JSON.stringify(decimal.body)).toBe(201)
    const moved = await api('PATCH', `/webhooks/${made.body.id}`, { url: 'http://[::ffff:169.254.169.254]/' })
    expect(moved).toMatchObject({ status: 400, body: { error: 'destination_not_allowed' } })
    expect((await api('GET', `/webhooks/${made.body.id}`)).body.url).toBe(`http://127.0.0.1:${port}/hook`)
    for (const id of [made.body.id, decimal.body.id]) expect((await api('DELETE', `/webhooks/${id}`)).status).toBe(204)
  })
})
