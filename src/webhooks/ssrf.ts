/**
 * The SSRF guard: webhook URLs are the tenant's to choose, so without a guard they could make the
 * server call its own network (a database port, a cloud metadata service). A destination is refused
 * when its host is, or resolves to, a private, loopback, link-local, shared, multicast or unspecified
 * address, unless the host is in webhooks.allow_hosts. Checked when the endpoint is saved and again
 * before each delivery (DNS answers change).
 */
import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'
import { AppError } from '../errors.ts'

const blocked = new BlockList()
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, bits, 'ipv4')
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, bits, 'ipv6')
}

function isBlocked(address: string): boolean {
  const mapped = address.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i)?.[1]
  if (mapped) return blocked.check(mapped, 'ipv4')
  return blocked.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4')
}

export function parseWebhookUrl(value: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new AppError(400, 'invalid_url', 'url must be an absolute http(s) URL')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new AppError(400, 'invalid_url', 'url must be http or https')
  if (url.username || url.password) throw new AppError(400, 'invalid_url', 'url must not carry credentials')
  return url
}

/** Throws 400 destination_not_allowed for a host that is, or resolves to, a non-public address. */
export async function assertPublicDestination(url: URL, allowHosts: readonly string[]): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, '')
  if (allowHosts.includes(host)) return
  let addresses: string[]
  if (isIP(host)) addresses = [host]
  else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address)
    } catch {
      throw new AppError(400, 'destination_unresolvable', `${host} does not resolve`)
    }
  }
  const refused = addresses.find(isBlocked)
  if (refused) {
    throw new AppError(
      400,
      'destination_not_allowed',
      `${host} is a private or local address (${refused}); list it in webhooks.allow_hosts to allow it`,
    )
  }
}
