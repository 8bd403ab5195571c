/**
 * The client's address: the socket's peer, since any client can write X-Forwarded-For itself; behind
 * trusted reverse proxies (server.trust_proxy), the address the nearest of them saw.
 *
 * Each proxy appends the address it received the request from, after whatever the client sent: with
 * one proxy the list ends `…, <client>`, with two `…, <client>, <outer proxy>`. So with N trusted
 * proxies the client is the Nth entry from the right, and the entries left of it are the client's
 * own words. A list shorter than N (a proxy that replaces the header) gives its leftmost entry.
 */

/** server.trust_proxy: false, true (one proxy) or the number of proxies in front. */
export type TrustProxy = boolean | number

const known = new WeakMap<Request, { trustProxy: TrustProxy; address: string | undefined }>()

/** What can tell a request's peer: Bun's server. */
export type AddressSource = { requestIP(r: Request): { address: string } | null } | null | undefined

export function clientAddress(request: Request, server: AddressSource, trustProxy: TrustProxy): string | undefined {
  // Asked several times a request (log, rate limits, click hash); the socket lookup is not free.
  const seen = known.get(request)
  if (seen?.trustProxy === trustProxy) return seen.address
  let address: string | undefined
  const proxies = trustProxy === true ? 1 : Number(trustProxy)
  if (proxies > 0) address = forwardedClient(request.headers.get('x-forwarded-for'), proxies)
  address ??= server?.requestIP(request)?.address
  known.set(request, { trustProxy, address })
  return address
}

function forwardedClient(header: string | null, proxies: number): string | undefined {
  if (!header) return undefined
  const hops = header
    .split(',')
    .map((hop) => hop.trim())
    .filter(Boolean)
  return hops[Math.max(0, hops.length - proxies)]
}

/**
 * What per-address limits count as one client: an IPv4 address, or the /64 an IPv6 address belongs
 * to. One subscriber is given a /64 or more and may pick any address in it, so counting IPv6
 * addresses one by one would let a single visitor write a new address on every request.
 * IPv4-mapped IPv6 addresses count as their IPv4 address.
 */
export function addressGroup(address: string): string {
  if (!address.includes(':')) return address
  const bare = address.split('%')[0]!.toLowerCase() // without a zone (fe80::1%eth0)
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare)
  if (mapped) return mapped[1]!
  const halves = bare.split('::')
  if (halves.length > 2) return bare // not an IPv6 address: counted as it is
  const groups = (half: string | undefined) => (half ? half.split(':') : [])
  const head = groups(halves[0])
  if (halves.length === 2) {
    const tail = groups(halves[1])
    // An embedded IPv4 tail (::a.b.c.d) stands for two groups; only the first four groups matter here.
    const tailGroups = tail.length + (tail.at(-1)?.includes('.') ? 1 : 0)
    head.push(...Array<string>(Math.max(0, 8 - head.length - tailGroups)).fill('0'), ...tail)
  }
  const prefix = head.slice(0, 4)
  if (prefix.length < 4 || prefix.some((group) => !/^[0-9a-f]{1,4}$/.test(group))) return bare
  return `${prefix.map((group) => Number.parseInt(group, 16).toString(16)).join(':')}::/64`
}
