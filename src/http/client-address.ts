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
