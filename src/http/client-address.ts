/**
 * The client's address. Behind a trusted reverse proxy it is the first hop of X-Forwarded-For;
 * otherwise the socket's peer, since any client can write X-Forwarded-For itself.
 */
export function clientAddress(
  request: Request,
  server: { requestIP(r: Request): { address: string } | null } | null | undefined,
  trustProxy: boolean,
): string | undefined {
  if (trustProxy) {
    const forwarded = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim()
    if (forwarded) return forwarded
  }
  return server?.requestIP(request)?.address
}
