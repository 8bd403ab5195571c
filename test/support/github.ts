/**
 * A stand-in for GitHub, which cannot be reached from here: the four endpoints partnerd's GitHub
 * sign-in uses, in GitHub's documented shapes, served as GitHub Enterprise Server lays them out
 * (`/login/oauth/*`, `/api/v3/*`). It checks what GitHub checks: the client secret, single-use codes,
 * and the PKCE verifier against the challenge.
 */
import { createHash, randomBytes } from 'node:crypto'

export interface GitHubAccount {
  id: number
  emails: { email: string; primary: boolean; verified: boolean }[]
}

export interface FakeGitHub {
  url: string
  signInAs(account: GitHubAccount): void
  stop(): void
}

export function startFakeGitHub(clientId: string, clientSecret: string): FakeGitHub {
  let current: GitHubAccount | undefined
  const codes = new Map<string, { challenge: string; account: GitHubAccount; redirectUri: string }>()
  const tokens = new Map<string, GitHubAccount>()
  const json = (body: unknown, status = 200) => Response.json(body, { status })
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const url = new URL(req.url)
      if (url.pathname === '/login/oauth/authorize') {
        const q = url.searchParams
        if (q.get('client_id') !== clientId || q.get('code_challenge_method') !== 'S256' || !current)
          return new Response('bad request', { status: 400 })
        const code = randomBytes(10).toString('hex')
        codes.set(code, { challenge: q.get('code_challenge')!, account: current, redirectUri: q.get('redirect_uri')! })
        const back = new URL(q.get('redirect_uri')!)
        back.searchParams.set('code', code)
        back.searchParams.set('state', q.get('state')!)
        return Response.redirect(back.toString(), 302)
      }
      if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
        const form = new URLSearchParams(await req.text())
        const basic = req.headers.get('authorization')?.replace(/^Basic /, '')
        const [id, secret] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [form.get('client_id'), form.get('client_secret')]
        if (id !== clientId || secret !== clientSecret) return json({ error: 'incorrect_client_credentials' }, 401)
        const grant = codes.get(form.get('code') ?? '')
        codes.delete(form.get('code') ?? '')
        const verifier = form.get('code_verifier') ?? ''
        if (
          !grant ||
          createHash('sha256').update(verifier).digest('base64url') !== grant.challenge ||
          form.get('redirect_uri') !== grant.redirectUri
        ) {
          return json({ error: 'bad_verification_code' }, 400)
        }
        const token = `gho_${randomBytes(16).toString('hex')}`
        tokens.set(token, grant.account)
        return json({ access_token: token, token_type: 'bearer', scope: 'read:user,user:email' })
      }
      const account = tokens.get(req.headers.get('authorization')?.replace(/^Bearer /, '') ?? '')
      if (!account) return json({ message: 'Bad credentials' }, 401)
      if (url.pathname === '/api/v3/user') return json({ id: account.id, login: `user${account.id}` })
      if (url.pathname === '/api/v3/user/emails') return json(account.emails)
      return json({ message: 'Not Found' }, 404)
    },
  })
  return {
    url: `http://127.0.0.1:${server.port}`,
    signInAs: (account) => {
      current = account
    },
    stop: () => void server.stop(true),
  }
}
