/**
 * Sign-in providers. The code exchange goes through arctic's OAuth 2.0 client with PKCE S256 (but
 * for LinkedIn, which refuses PKCE).
 * OpenID Connect providers (Google, Microsoft, LinkedIn, and any issuer named by its `issuer` URL for
 * SSO) give endpoints and keys by discovery and a signed ID token, verified with jose. GitHub is plain
 * OAuth 2.0: who the person is, and whether their email is verified, come from its REST API.
 *
 * The client proves itself at the token endpoint the way the provider's discovery says: HTTP Basic
 * (the default, RFC 8414), or the secret in the form body where that is all it offers (LinkedIn's
 * `client_secret_post`).
 */
import { CodeChallengeMethod, OAuth2Client, OAuth2Tokens } from 'arctic'
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose'

export interface ProviderSettings {
  client_id: string
  client_secret: string
  /** GitHub only: a GitHub Enterprise Server's address instead of github.com. */
  enterprise_url?: string
  /** For a generic OIDC issuer; named providers know theirs. */
  issuer?: string
  /** Microsoft only: the Entra tenant (`common`, `organizations`, or a tenant id). */
  tenant?: string
  scopes?: string[]
}

/** The named OIDC providers: their issuer, and where they depart from OpenID Connect Core. */
const KNOWN_PROVIDERS: Record<string, { issuer: (s: ProviderSettings) => string; omitsNonce?: true; noPkce?: true }> = {
  google: { issuer: () => 'https://accounts.google.com' },
  microsoft: { issuer: (s) => `https://login.microsoftonline.com/${s.tenant ?? 'common'}/v2.0` },
  // LinkedIn's ID tokens carry no nonce, whatever the request sent, and its web apps have no PKCE: a
  // token request with a code_verifier is refused. The state cookie, the client secret and the
  // exact redirect URI still bind the round trip to the browser that started it.
  linkedin: { issuer: () => 'https://www.linkedin.com/oauth', omitsNonce: true, noPkce: true },
}

interface Discovery {
  issuer: string
  authorization_endpoint: string
  token_endpoint: string
  jwks_uri: string
  userinfo_endpoint?: string
  token_endpoint_auth_methods_supported?: string[]
}

export interface Claims {
  subject: string
  email?: string
  emailVerified: boolean
}

export interface SignInProvider {
  readonly name: string
  authorizationUrl(request: Request, state: string, codeVerifier: string, nonce: string): Promise<URL>
  /** Exchanges the code (with its PKCE verifier) and returns who signed in, verified. */
  finish(request: Request, code: string, codeVerifier: string, nonce: string): Promise<Claims>
}

type RedirectUri = (provider: string, request: Request) => string

export function createProvider(name: string, settings: ProviderSettings, redirectUri: RedirectUri): SignInProvider {
  return name === 'github' ? new GitHubProvider(settings, redirectUri) : new OidcProvider(name, settings, redirectUri)
}

export class OidcProvider implements SignInProvider {
  #discovery?: Promise<Discovery>
  #keys?: ReturnType<typeof createRemoteJWKSet>
  /** The provider never echoes the nonce (LinkedIn): an ID token without one is taken; a wrong one never is. */
  readonly #omitsNonce: boolean
  /** Whether the provider takes PKCE (S256); one that refuses it (LinkedIn) gets neither challenge nor verifier. */
  readonly #pkce: boolean
  readonly issuer: string

  constructor(
    readonly name: string,
    private readonly settings: ProviderSettings,
    private readonly redirectUri: (provider: string, request: Request) => string,
  ) {
    const known = KNOWN_PROVIDERS[name]
    if (!known && !settings.issuer) throw new Error(`provider ${name}: give issuer (or use google, microsoft or linkedin)`)
    this.issuer = (settings.issuer ?? known!.issuer(settings)).replace(/\/$/, '')
    this.#omitsNonce = known?.omitsNonce === true
    this.#pkce = known?.noPkce !== true
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
    const client = this.#client(request)
    const url = this.#pkce
      ? client.createAuthorizationURLWithPKCE(authorization_endpoint, state, CodeChallengeMethod.S256, codeVerifier, scopes)
      : client.createAuthorizationURL(authorization_endpoint, state, scopes)
    url.searchParams.set('nonce', nonce)
    return url
  }

  /** The code for tokens, the client authenticated as the provider accepts it. */
  async #exchange(request: Request, discovery: Discovery, code: string, verifier: string): Promise<OAuth2Tokens> {
    const codeVerifier = this.#pkce ? verifier : null
    const methods = discovery.token_endpoint_auth_methods_supported
    // Absent, the methods are client_secret_basic alone (RFC 8414 §2), which arctic's client sends.
    if (!methods || methods.includes('client_secret_basic') || !methods.includes('client_secret_post')) {
      return this.#client(request).validateAuthorizationCode(discovery.token_endpoint, code, codeVerifier)
    }
    const res = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: this.redirectUri(this.name, request),
        ...(codeVerifier ? { code_verifier: codeVerifier } : {}),
        client_id: this.settings.client_id,
        client_secret: this.settings.client_secret,
      }),
      signal: AbortSignal.timeout(5000),
    })
    if (!res.ok) throw new Error(`the token endpoint answered ${res.status}`)
    return new OAuth2Tokens((await res.json()) as object)
  }

  /** Exchanges the code (with its PKCE verifier) and returns the verified ID token's claims. */
  async finish(request: Request, code: string, codeVerifier: string, nonce: string): Promise<Claims> {
    const discovery = await this.#discover()
    const tokens = await this.#exchange(request, discovery, code, codeVerifier)
    this.#keys ??= createRemoteJWKSet(new URL(discovery.jwks_uri))
    const { payload } = await jwtVerify(tokens.idToken(), this.#keys, {
      issuer: this.name === 'microsoft' ? undefined : discovery.issuer,
      audience: this.settings.client_id,
      algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    })
    const nonceAbsentAsKnown = this.#omitsNonce && payload.nonce === undefined
    if (payload.nonce !== nonce && !nonceAbsentAsKnown) throw new Error('the ID token answers another sign-in (nonce)')
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

/** GitHub (or GitHub Enterprise Server): the account id is the subject, the primary verified email its email. */
export class GitHubProvider implements SignInProvider {
  readonly name = 'github'
  readonly #web: string
  readonly #api: string

  constructor(
    private readonly settings: ProviderSettings,
    private readonly redirectUri: RedirectUri,
  ) {
    const enterprise = settings.enterprise_url?.replace(/\/$/, '')
    this.#web = enterprise ?? 'https://github.com'
    this.#api = enterprise ? `${enterprise}/api/v3` : 'https://api.github.com'
  }

  #client(request: Request): OAuth2Client {
    return new OAuth2Client(this.settings.client_id, this.settings.client_secret, this.redirectUri(this.name, request))
  }

  async authorizationUrl(request: Request, state: string, codeVerifier: string): Promise<URL> {
    const scopes = this.settings.scopes ?? ['read:user', 'user:email']
    return this.#client(request).createAuthorizationURLWithPKCE(
      `${this.#web}/login/oauth/authorize`,
      state,
      CodeChallengeMethod.S256,
      codeVerifier,
      scopes,
    )
  }

  async finish(request: Request, code: string, codeVerifier: string): Promise<Claims> {
    const tokens = await this.#client(request).validateAuthorizationCode(`${this.#web}/login/oauth/access_token`, code, codeVerifier)
    const api = async <T>(path: string): Promise<T> => {
      const res = await fetch(`${this.#api}${path}`, {
        headers: { authorization: `Bearer ${tokens.accessToken()}`, accept: 'application/vnd.github+json', 'user-agent': 'partnerd' },
        signal: AbortSignal.timeout(5000),
      })
      if (!res.ok) throw new Error(`GitHub ${path} answered ${res.status}`)
      return (await res.json()) as T
    }
    const user = await api<{ id: number }>('/user')
    const emails = await api<{ email: string; primary: boolean; verified: boolean }[]>('/user/emails')
    const primary = emails.find((e) => e.primary) ?? emails.find((e) => e.verified)
    if (typeof user.id !== 'number') throw new Error('GitHub named no account')
    return { subject: String(user.id), email: primary?.email.trim().toLowerCase(), emailVerified: primary?.verified === true }
  }
}
