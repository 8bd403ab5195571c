/**
 * A browser's part of a redirect flow, by hand: follow each redirect, keeping cookies per origin,
 * until `stop(url)` says so. Resolves with the cookies collected and where the walk stopped.
 */
export async function walkRedirects(start: string, stop: (url: string) => boolean, maxHops = 12) {
  const jar = new Map<string, Map<string, string>>()
  let next = start
  let last: Response | undefined
  for (let hop = 0; hop < maxHops; hop++) {
    const origin = new URL(next).origin
    const cookies = [...(jar.get(origin) ?? new Map())].map(([k, v]) => `${k}=${v}`).join('; ')
    last = await fetch(next, { redirect: 'manual', headers: cookies ? { cookie: cookies } : {} })
    for (const header of last.headers.getSetCookie()) {
      const [pair] = header.split(';')
      const eq = pair!.indexOf('=')
      if (!jar.has(origin)) jar.set(origin, new Map())
      jar.get(origin)!.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1))
    }
    const location = last.headers.get('location')
    if (!location) break
    next = new URL(location, next).toString()
    if (stop(next)) break
  }
  return { cookie: (origin: string, name: string) => jar.get(origin)?.get(name) || undefined, last: last!, at: next }
}
