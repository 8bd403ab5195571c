/**
 * A real OpenID Connect provider on loopback: oidc-provider (OpenID-certified), with PKCE required and
 * its login and consent interactions completed at once for the account the test chooses, so a browser
 * can walk the whole redirect flow without a login page.
 */
import { createServer, type Server } from 'node:http'
import { exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'

export interface TestAccount {
  email: string
  email_verified: boolean
}

export interface OidcHarness {
  issuer: string
  clientId: string
  clientSecret: string
  /** Who signs in at the provider next. */
  signInAs(accountId: string): void
  close(): Promise<void>
}

export interface OidcOptions {
  /**
   * How the client proves itself at the token endpoint; the provider offers only this one (in its
   * discovery document too). LinkedIn's takes the secret in the body only: `client_secret_post`.
   */
  clientAuthMethod?: 'client_secret_basic' | 'client_secret_post'
  /** Ignore the nonce of the authorization request, so the ID token carries none (LinkedIn's does not). */
  ignoresNonce?: boolean
  /**
   * No PKCE, as LinkedIn's web apps: the code challenge of the authorization request is dropped, so a
   * token request carrying a code_verifier fails (LinkedIn answers it 401 invalid_client).
   */
  refusesPkce?: boolean
}

export async function startOidcProvider(
  port: number,
  redirectUri: string,
  accounts: Record<string, TestAccount>,
  options: OidcOptions = {},
): Promise<OidcHarness> {
  const clientAuthMethod = options.clientAuthMethod ?? 'client_secret_basic'
  const issuer = `http://127.0.0.1:${port}`
  let current = Object.keys(accounts)[0]!
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const provider = new Provider(issuer, {
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'test' }] },
    clients: [
      {
        client_id: 'partnerd',
        client_secret: 'partnerd-test-secret',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: clientAuthMethod,
      },
    ],
    clientAuthMethods: [clientAuthMethod],
    pkce: { required: () => !options.refusesPkce },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    cookies: { keys: ['oidc-test-cookie-key'] },
    findAccount: async (_ctx, id) => (accounts[id] ? { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) } : undefined),
  })
  const handle = provider.callback()
  const server: Server = createServer(async (req, res) => {
    // oidc-provider lets a registered client_secret_post client through with Basic as well; a
    // provider offering only the body (LinkedIn) refuses the header, and so does this one.
    if (clientAuthMethod === 'client_secret_post' && req.method === 'POST' && req.url === '/token' && req.headers.authorization) {
      res.writeHead(401, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ error: 'invalid_client', error_description: 'client_secret_post only' }))
    }
    if ((options.ignoresNonce || options.refusesPkce) && req.url?.startsWith('/auth?')) {
      const url = new URL(req.url, issuer)
      if (options.ignoresNonce) url.searchParams.delete('nonce')
      if (options.refusesPkce) for (const name of ['code_challenge', 'code_challenge_method']) url.searchParams.delete(name)
      req.url = url.pathname + url.search
    }
    if (!req.url?.startsWith('/interaction/')) return handle(req, res)
    const details = await provider.interactionDetails(req, res)
    if (details.prompt.name === 'login') {
      return provider.interactionFinished(req, res, { login: { accountId: current } }, { mergeWithLastSubmission: false })
    }
    const grant = new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) })
    const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] }
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '))
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims)
    return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    issuer,
    clientId: 'partnerd',
    clientSecret: 'partnerd-test-secret',
    signInAs: (id) => {
      current = id
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
