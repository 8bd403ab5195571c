/**
 * The SSRF guard: webhook URLs are the tenant's to choose, so without a guard they could make the
 * server call its own network (a database port, a cloud metadata service). A destination is refused
 * when its host is, or resolves to, a private, loopback, link-local, shared, multicast, reserved or
 * unspecified address, unless the host is in webhooks.allow_hosts. Checked when the endpoint is saved
 * and again before each delivery (DNS answers change). Webhooks, postbacks and the automation
 * platforms' REST hooks (through the program facet) all come through here.
 *
 * Addresses are judged by their bytes, never by matching their text. The URL parser (WHATWG, as
 * fetch uses it) first turns every spelling of a host into one: `2130706433`, `0x7f.1`, `127.1` and
 * `１２７.０.０.１` are all 127.0.0.1, `[::ffff:127.0.0.1]` is `[::ffff:7f00:1]`. Then an IPv6 address
 * that carries an IPv4 address inside it (IPv4-compatible, -mapped and -translated forms, NAT64,
 * 6to4, Teredo) is judged as that IPv4 address, since that is where the packets end up: a
 * `[64:ff9b::a9fe:a9fe]` is the metadata service 169.254.169.254 behind a NAT64 gateway.
 *
 * webhooks.allow_hosts names hosts as the URL parser writes them (so `127.1` is 127.0.0.1, allowed
 * when 127.0.0.1 is). An IPv6 form embedding an allowed IPv4 address is another host: it is judged
 * on its own, and refused when the address it embeds is not public.
 */
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { AppError } from '../errors.ts'

type Bytes = readonly number[]

/** `a.b.c.d` in canonical form (what the URL parser and the resolver give) as 4 bytes. */
function ipv4Bytes(text: string): Bytes | undefined {
  const parts = text.split('.')
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p))) return undefined
  const bytes = parts.map(Number)
  return bytes.every((b) => b <= 255) ? bytes : undefined
}

/**
 * Any IPv6 spelling as 16 bytes. The URL parser does the reading (leading zeros, upper case, a
 * dotted IPv4 tail, `::`): what it writes back is hex groups with at most one `::`. A zone (`%eth0`),
 * which only link-local addresses carry, is dropped.
 */
function ipv6Bytes(text: string): Bytes | undefined {
  let host: string
  try {
    host = new URL(`http://[${text.replace(/%.*$/, '')}]/`).hostname.slice(1, -1)
  } catch {
    return undefined
  }
  const groups = (part: string) => (part ? part.split(':').map((g) => Number.parseInt(g, 16)) : [])
  const [head = '', tail] = host.split('::')
  const before = groups(head)
  const after = tail === undefined ? [] : groups(tail)
  const all = tail === undefined ? before : [...before, ...new Array(Math.max(0, 8 - before.length - after.length)).fill(0), ...after]
  if (all.length !== 8 || !all.every((g) => g >= 0 && g <= 0xffff)) return undefined
  return all.flatMap((g) => [g >> 8, g & 0xff])
}

interface Net {
  bytes: Bytes
  bits: number
  /** Written out, with what it is: `127.0.0.0/8 (loopback)`. */
  label: string
}

function net(cidr: string, what: string): Net {
  const [address = '', bits = ''] = cidr.split('/')
  const bytes = address.includes(':') ? ipv6Bytes(address) : ipv4Bytes(address)
  if (!bytes) throw new Error(`bad network ${cidr}`)
  return { bytes, bits: Number(bits), label: `${cidr} (${what})` }
}

function within(bytes: Bytes, n: Net): boolean {
  if (bytes.length !== n.bytes.length) return false
  for (let bit = 0; bit < n.bits; bit += 8) {
    const mask = (0xff << (8 - Math.min(8, n.bits - bit))) & 0xff
    if ((bytes[bit / 8]! & mask) !== (n.bytes[bit / 8]! & mask)) return false
  }
  return true
}

/** IPv4 networks no webhook has a reason to reach (RFC 6890's special-purpose registry, mostly). */
const IPV4_REFUSED = [
  net('0.0.0.0/8', '"this network"; 0.0.0.0 reaches the server itself'),
  net('10.0.0.0/8', 'private'),
  net('100.64.0.0/10', 'shared address space'),
  net('127.0.0.0/8', 'loopback'),
  net('169.254.0.0/16', 'link-local, where cloud metadata services answer'),
  net('172.16.0.0/12', 'private'),
  net('192.0.0.0/24', 'IETF protocol assignments'),
  net('192.0.2.0/24', 'documentation'),
  net('192.88.99.0/24', '6to4 relay anycast'),
  net('192.168.0.0/16', 'private'),
  net('198.18.0.0/15', 'benchmarking'),
  net('198.51.100.0/24', 'documentation'),
  net('203.0.113.0/24', 'documentation'),
  net('224.0.0.0/4', 'multicast'),
  net('240.0.0.0/4', 'reserved, and broadcast'),
]

/** IPv6 networks refused as such (the embedding ones are below). */
const IPV6_REFUSED = [
  net('::/128', 'unspecified'),
  net('::1/128', 'loopback'),
  net('100::/64', 'discard-only'),
  net('2001:2::/48', 'benchmarking'),
  net('2001:db8::/32', 'documentation'),
  net('3fff::/20', 'documentation'),
  net('fc00::/7', 'unique local'),
  net('fe80::/10', 'link-local'),
  net('fec0::/10', 'site-local'),
  net('ff00::/8', 'multicast'),
]

const NAT64_LOCAL = net('64:ff9b:1::/48', 'local-use NAT64')

/**
 * IPv6 forms that carry an IPv4 address, and where it sits. Checked after IPV6_REFUSED, so `::` and
 * `::1` are named for what they are rather than as the IPv4-compatible 0.0.0.0 and 0.0.0.1.
 */
const EMBEDDING: { net: Net; ipv4: (bytes: Bytes) => Bytes }[] = [
  { net: net('::/96', 'IPv4-compatible'), ipv4: (b) => b.slice(12) },
  { net: net('::ffff:0:0/96', 'IPv4-mapped'), ipv4: (b) => b.slice(12) },
  { net: net('::ffff:0:0:0/96', 'IPv4-translated'), ipv4: (b) => b.slice(12) },
  { net: net('64:ff9b::/96', 'NAT64'), ipv4: (b) => b.slice(12) },
  // RFC 8215 lets an operator place the IPv4 address at several offsets inside the local-use
  // prefix; DNS64 deployments use the /96 layout (zeros up to the last 32 bits). Any other layout
  // cannot be read with certainty, so it is refused whole (see nonPublic).
  { net: NAT64_LOCAL, ipv4: (b) => b.slice(12) },
  { net: net('2002::/16', '6to4'), ipv4: (b) => b.slice(2, 6) },
  // Teredo: the client's public IPv4 address is the last 32 bits, each bit flipped.
  { net: net('2001::/32', 'Teredo'), ipv4: (b) => b.slice(12).map((x) => x ^ 0xff) },
]

function ipv4Text(bytes: Bytes): string {
  return bytes.join('.')
}

/**
 * Why `address` (an IPv4 or IPv6 address, as the URL parser or the resolver writes it) is not a
 * public destination, or undefined when it is. Text that is not an address is refused too.
 */
export function nonPublic(address: string): string | undefined {
  const v4 = isIP(address) === 4 ? ipv4Bytes(address) : undefined
  if (v4) {
    const range = IPV4_REFUSED.find((n) => within(v4, n))
    return range && `${address} is in ${range.label}`
  }
  const v6 = address.includes(':') ? ipv6Bytes(address) : undefined
  if (!v6) return `${address} is not an IP address`
  const range = IPV6_REFUSED.find((n) => within(v6, n))
  if (range) return `${address} is in ${range.label}`
  const embedding = EMBEDDING.find((e) => within(v6, e.net))
  if (!embedding) return undefined
  if (embedding.net === NAT64_LOCAL && v6.slice(6, 12).some((b) => b !== 0)) {
    return `${address} is in ${NAT64_LOCAL.label}, with the IPv4 address at an offset that cannot be read for certain`
  }
  const embedded = ipv4Text(embedding.ipv4(v6))
  const why = nonPublic(embedded)
  return why && `${address} is ${embedding.net.label} for ${embedded}, and ${why}`
}

/** A host as the URL parser writes it (brackets off an IPv6 address), for comparing allow_hosts entries. */
function canonicalHost(host: string): string {
  let canonical = canonicalHosts.get(host)
  if (canonical === undefined) {
    try {
      canonical = new URL(`http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}/`).hostname.replace(/^\[|\]$/g, '')
    } catch {
      canonical = host
    }
    // allow_hosts entries, compared at every delivery: a handful, parsed once.
    if (canonicalHosts.size < 1000) canonicalHosts.set(host, canonical)
  }
  return canonical
}
const canonicalHosts = new Map<string, string>()

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
  if (allowHosts.some((allowed) => canonicalHost(allowed) === host)) return
  let addresses: string[]
  if (isIP(host)) addresses = [host]
  else {
    try {
      addresses = (await lookup(host, { all: true })).map((a) => a.address)
    } catch {
      throw new AppError(400, 'destination_unresolvable', `${host} does not resolve`)
    }
    if (addresses.length === 0) throw new AppError(400, 'destination_unresolvable', `${host} does not resolve`)
  }
  for (const address of addresses) {
    const why = nonPublic(address)
    if (why) {
      const where = address === host ? why : `${host} resolves to ${address}: ${why}`
      throw new AppError(400, 'destination_not_allowed', `${where}; list ${host} in webhooks.allow_hosts to allow it`)
    }
  }
}
