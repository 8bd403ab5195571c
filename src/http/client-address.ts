/**
 * The client's address. Behind a trusted reverse proxy it is the first hop of X-Forwarded-For;
 * otherwise the socket's peer, since any client can write X-Forwarded-For itself.
 */
const known = new WeakMap<Request, { trustProxy: boolean; address: string | undefined }>()

/** What can tell a request's peer: Bun's server. */
export type AddressSource = { requestIP(r: Request): { address: string } | null } | null | undefined

export function clientAddress(request: Request, server: AddressSource, trustProxy: boolean): string | undefined {
  // Asked several times a request (log, rate limits, click hash); the socket lookup is not free.
  const seen = known.get(request)
  if (seen?.trustProxy === trustProxy) return seen.address
  let address: string | undefined
  if (trustProxy) address = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim() || undefined
  address ??= server?.requestIP(request)?.address
  known.set(request, { trustProxy, address })
  return address
}
