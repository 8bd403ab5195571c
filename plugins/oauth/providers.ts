/**
 * Sign-in providers, all spoken to as OpenID Connect: endpoints and signing keys come from the issuer's
 * discovery document, the code exchange goes through arctic's OAuth 2.0 client (PKCE S256), and the ID
 * token is verified with jose against the issuer's keys. Google, Microsoft and LinkedIn are OIDC issuers
 * with known addresses; any other issuer (the SSO path) is named by its `issuer` URL.
 */
import { CodeChallengeMethod, OAuth2Client } from 'arctic'
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose'

export interface ProviderSettings {
  client_id: string
  client_secret: string
  /** For a generic OIDC issuer; named providers know theirs. */
  issuer?: string
  /** Microsoft only: the Entra tenant (`common`, `organizations`, or a tenant id). */
  tenant?: string
  scopes?: string[]
}

const KNOWN_ISSUERS: Record<string, (s: ProviderSettings) => string> = {
  google: () => 'https://accounts.google.com',
  microsoft: (s) => `https://login.microsoftonline.com/${s.tenant ?? 'common'}/v2.0`,
  linkedin: () => 'https://www.linkedin.com/oauth',
}

interface Discovery {
  issuer: string
  authorization_endpoint: string
  token_endpoint: string
  jwks_uri: string
  userinfo_endpoint?: string
}

export interface Claims {
  subject: string
  email?: string
  emailVerified: boolean
}

export class OidcProvider {
  #discovery?: Promise<Discovery>
  #keys?: ReturnType<typeof createRemoteJWKSet>
  readonly issuer: string

  constructor(
    readonly name: string,
    private readonly settings: ProviderSettings,
    private readonly redirectUri: (provider: string, request: Request) => string,
  ) {
    const known = KNOWN_ISSUERS[name]
    if (!known && !settings.issuer) throw new Error(`provider ${name}: give issuer (or use google, microsoft or linkedin)`)
    this.issuer = (settings.issuer ?? known!(settings)).replace(/\/$/, '')
  }

  #discover(): Promise<Discovery> {
    this.#discovery ??= fetch(`${this.issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) })
      .then(async (res) => {
        if (!res.ok) throw new Error(`discovery answered ${res.status}`)
        const doc = (await res.json()) as Discovery
        // Microsoft's `common` issuer names a template; everyone else must name themselves exactly.
        if (doc.issuer.replace(/\/$/, '') !== this.issuer && this.name !== 'microsoft') throw new Error('discovery names another issuer')
        return doc
      })
      .catch((err) => {
        this.#discovery = undefined // try again on the next sign-in
        throw err
      })
    return this.#discovery
  }

  #client(request: Request): OAuth2Client {
    return new OAuth2Client(this.settings.client_id, this.settings.client_secret, this.redirectUri(this.name, request))
  }

  async authorizationUrl(request: Request, state: string, codeVerifier: string, nonce: string): Promise<URL> {
    const { authorization_endpoint } = await this.#discover()
    const scopes = this.settings.scopes ?? ['openid', 'email', 'profile']
    const url = this.#client(request).createAuthorizationURLWithPKCE(
      authorization_endpoint,
      state,
      CodeChallengeMethod.S256,
      codeVerifier,
      scopes,
    )
    url.searchParams.set('nonce', nonce)
    return url
  }

  /** Exchanges the code (with its PKCE verifier) and returns the verified ID token's claims. */
  async finish(request: Request, code: string, codeVerifier: string, nonce: string): Promise<Claims> {
    const discovery = await this.#discover()
    const tokens = await this.#client(request).validateAuthorizationCode(discovery.token_endpoint, code, codeVerifier)
    this.#keys ??= createRemoteJWKSet(new URL(discovery.jwks_uri))
    const { payload } = await jwtVerify(tokens.idToken(), this.#keys, {
      issuer: this.name === 'microsoft' ? undefined : discovery.issuer,
      audience: this.settings.client_id,
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    })
    if (payload.nonce !== nonce) throw new Error('the ID token answers another sign-in (nonce)')
    const claims = claimsOf(payload)
    if (claims.email || !discovery.userinfo_endpoint) return claims
    // Conformant issuers put email in userinfo rather than the ID token of a code flow.
    const res = await fetch(discovery.userinfo_endpoint, {
      headers: { authorization: `Bearer ${tokens.accessToken()}` },
      signal: AbortSignal.timeout(5000),
    })
    if (!res.ok) throw new Error(`userinfo answered ${res.status}`)
    const info = (await res.json()) as JWTPayload
    if (info.sub !== claims.subject) throw new Error('userinfo describes another subject')
    return claimsOf(info)
  }
}

function claimsOf(payload: JWTPayload): Claims {
  if (!payload.sub) throw new Error('the ID token names no subject')
  const email = typeof payload.email === 'string' ? payload.email.trim().toLowerCase() : undefined
  return { subject: payload.sub, email, emailVerified: payload.email_verified === true }
}
