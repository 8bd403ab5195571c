/**
 * Talking to the console as a browser would, over HTTP: signing in through the sign-in page, keeping
 * the session cookie, reading the CSRF token off a page, posting forms.
 */
import type { TestServer } from './server.ts'

export interface Session {
  cookie: string
  csrf: string
}

/** `base` is the organization's pages: `` (single mode) or `/t/<slug>`. */
export async function signIn(server: TestServer, email: string, password: string, base = ''): Promise<Session> {
  const res = await form(server, `${base}/sign-in`, { email, password, next: `${base}/admin` })
  if (res.status !== 303) throw new Error(`sign-in of ${email} answered ${res.status}: ${await res.text()}`)
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => !c.startsWith('op_flash='))!
  const home = await server.call('GET', `${base}/admin/account`, { headers: { cookie } })
  return { cookie, csrf: csrfOf(await home.text()) }
}

/** The CSRF token a page's forms carry. */
export function csrfOf(html: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1]
  if (!token) throw new Error('no CSRF token on the page')
  return token
}

/** A form POST, as a browser sends it from a page of the site (urlencoded, same origin). */
export function form(
  server: TestServer,
  path: string,
  fields: Record<string, string | string[]>,
  session?: Session,
  options: { csrf?: string | null; headers?: Record<string, string> } = {},
): Promise<Response> {
  const body = new URLSearchParams()
  for (const [name, value] of Object.entries(fields)) for (const v of [value].flat()) body.append(name, v)
  const csrf = options.csrf === undefined ? session?.csrf : options.csrf
  if (csrf) body.set('_csrf', csrf)
  return fetch(server.url + path, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      origin: server.url,
      'sec-fetch-site': 'same-origin',
      ...(session ? { cookie: session.cookie } : {}),
      ...options.headers,
    },
    body,
  })
}

export function get(server: TestServer, path: string, session?: Session): Promise<Response> {
  return fetch(server.url + path, { redirect: 'manual', headers: session ? { cookie: session.cookie } : {} })
}
