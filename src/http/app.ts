/**
 * Assembles the HTTP application: request ids, body limit, access log and metrics around every
 * request; health, readiness, metrics, the OpenAPI document and its reference page; the tenant API
 * with the core's and the plugins' routes; and the error mapping, in one place.
 */
import { type AnyElysia, Elysia } from 'elysia'
import type { AuthStrategy } from '../auth/principal.ts'
import type { Config } from '../config/schema.ts'
import type { Database } from '../db/database.ts'
import type { WithTenant } from '../db/with-tenant.ts'
import { AppError } from '../errors.ts'
import { newRequestId } from '../ids.ts'
import type { AccessLog } from '../log/access-log.ts'
import type { Logger } from '../log/logger.ts'
import type { TenantResolver } from '../tenants/resolver.ts'
import { clientAddress } from './client-address.ts'
import { errorMapper } from './errors.ts'
import { checkInput } from './input-guard.ts'
import { createMetrics } from './metrics.ts'
import { OPENAPI_PATH, openApiDocument } from './openapi.ts'
import { health, readiness } from './operations.ts'
import { renderReferencePage } from './reference-page.ts'
import { type OwnedRoutes, registerRoutes } from './route-table.ts'
import { createTenantApi } from './tenant-api.ts'

export interface AppDeps {
  config: Config
  log: Logger
  /** The access log (log/access-log.ts), unless the config turns it off. */
  accessLog?: AccessLog
  database: Database
  withTenant: WithTenant
  resolveTenant: TenantResolver
  strategies: readonly AuthStrategy[]
  /** The tenant API's routes, by who adds them (route-table.ts checks them as they are added). */
  routes: readonly OwnedRoutes[]
  /** Routes outside /api, such as the click router. */
  outsideApi?: readonly AnyElysia[]
  /**
   * Paths a listening server answers straight from Bun's router, with no framework in between: the
   * click router, whose every microsecond counts. Each must also be mounted in `outsideApi` (which
   * documents it and serves app.handle()); here it still gets its request id, error body, metric
   * and access-log line, the same as every other route.
   */
  nativeRoutes?: Record<string, NativeHandler>
}

/**
 * A handler for Bun's router: the request (with `params`), the server it came through, and the
 * headers every response carries (the request id), to be put on the response it builds. Errors are
 * thrown as AppErrors, as anywhere else.
 */
export type NativeHandler = (request: BunRequest, server: Server, headers: Record<string, string>) => Promise<Response>
type BunRequest = Request & { params: Record<string, string> }
type Server = { requestIP(r: Request): { address: string } | null }

/** When a request came in and its id, for its metric and access-log line. */
interface RequestStart {
  at: number
  id: string
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
const REFERENCE_PATH = '/api/reference'

export function createApp(deps: AppDeps) {
  const { config, log } = deps
  const metrics = createMetrics()
  const started = new WeakMap<Request, RequestStart>()
  const requestIdOf = (r: Request) => started.get(r)?.id
  const mapError = errorMapper(log, requestIdOf)
  const { accessLog } = deps

  /** The client's X-Request-Id when it is sane, else a new one. */
  const requestIdFor = (request: Request) => {
    const incoming = request.headers.get('x-request-id')
    return incoming && REQUEST_ID.test(incoming) ? incoming : newRequestId()
  }
  /** Every answered request: a metric, and an access-log line when the access log wants one. */
  const answered = (request: Request, server: Server | null, pattern: string, status: number, start: RequestStart) => {
    const seconds = (performance.now() - start.at) / 1000
    metrics.observe(request.method, pattern, status, seconds)
    if (accessLog?.wants(status)) {
      accessLog.write({
        requestId: start.id,
        method: request.method,
        route: pattern,
        status,
        ms: Math.round(seconds * 10000) / 10,
        // Looked up only for a line: the socket lookup is not free (other readers share it, see client-address.ts).
        ip: clientAddress(request, server, config.server.trust_proxy),
      })
    }
  }
  const native = (pattern: string, handler: NativeHandler) => async (request: BunRequest, server: Server) => {
    const start: RequestStart = { at: performance.now(), id: requestIdFor(request) }
    let response: Response
    try {
      response = await handler(request, server, { 'x-request-id': start.id })
    } catch (error) {
      started.set(request, start) // for the 500's log line
      const set: { status?: number | string; headers: Record<string, string> } = { headers: { 'x-request-id': start.id } }
      const body = mapError({ code: 'UNKNOWN', error, set, request })
      response = Response.json(body, { status: Number(set.status), headers: set.headers })
    }
    answered(request, server, pattern, response.status, start)
    return response
  }
  // The probes of load balancers and orchestrators are answered from Bun's router too: they come
  // often, and what they answer is the same there as through the app (operations.ts).
  const operations: Record<string, NativeHandler> = {
    '/health': async (_request, _server, headers) => health(headers),
    '/ready': async (_request, _server, headers) => readiness(deps.database, log, headers),
  }
  const nativeRoutes = Object.fromEntries(
    Object.entries({ ...operations, ...deps.nativeRoutes }).map(([pattern, handler]) => [pattern, { GET: native(pattern, handler) }]),
  )

  const api = createTenantApi({
    mode: config.mode,
    resolveTenant: deps.resolveTenant,
    withTenant: deps.withTenant,
    strategies: deps.strategies,
    trustProxy: config.server.trust_proxy,
  })
  registerRoutes(api, deps.routes)

  let referenceHtml: string | undefined
  const openApi = openApiDocument(config, ['/api/*', REFERENCE_PATH])
  // The document describes the app it is served by, which is made below.
  let self: AnyElysia | undefined
  const tooLarge = () => new AppError(413, 'payload_too_large', `bodies are limited to ${config.server.body_limit_bytes} bytes`)

  const app = new Elysia({ normalize: false, serve: { routes: nativeRoutes } })
    .onRequest(async ({ request, set }) => {
      const id = requestIdFor(request)
      started.set(request, { at: performance.now(), id })
      set.headers['x-request-id'] = id
      const declared = request.headers.get('content-length')
      if (declared !== null) {
        if (Number(declared) > config.server.body_limit_bytes) throw tooLarge()
      } else if (request.body) {
        // A chunked body has no length to check up front: measure a copy (Bun's own cap bounds it).
        if ((await request.clone().arrayBuffer()).byteLength > config.server.body_limit_bytes) throw tooLarge()
      }
    })
    // After parsing, before validation and every handler (input-guard.ts).
    .onTransform(({ body, query, params }) => checkInput({ params, query, body }))
    .onError(mapError)
    .onAfterResponse(({ request, route, set, server }) => {
      const start = started.get(request)
      if (!start) return
      const status = typeof set.status === 'number' ? set.status : 200
      // A 404 has no route; label it so, or every scanned path would become a series.
      answered(request, server, route && status !== 404 ? route : 'unmatched', status, start)
    })
    .get(OPENAPI_PATH, () => openApi(self!), { detail: { hide: true } })
    .get('/health', () => health(), {
      detail: { tags: ['Operations'], summary: 'Liveness: the process answers' },
    })
    .get('/ready', () => readiness(deps.database, log), {
      detail: { tags: ['Operations'], summary: 'Readiness: the database answers' },
    })
    .get(
      '/metrics',
      async ({ set }) => {
        set.headers['content-type'] = metrics.contentType
        return metrics.render()
      },
      { detail: { tags: ['Operations'], summary: 'Prometheus metrics' } },
    )
    .get(REFERENCE_PATH, async ({ set }) => {
      if (!referenceHtml) {
        referenceHtml = renderReferencePage(await openApi(self!))
      }
      set.headers['content-type'] = 'text/html; charset=utf-8'
      return referenceHtml
    })
    .use(api)
  self = app
  for (const routes of deps.outsideApi ?? []) app.use(routes)
  app.all('/api/*', ({ request }) => {
    const path = new URL(request.url).pathname
    if (config.mode === 'multi' && !path.startsWith('/api/t/')) {
      throw new AppError(400, 'tenant_slug_missing', 'this server hosts several tenants: call /api/t/<slug>/…')
    }
    throw new AppError(404, 'not_found', `no route ${request.method} ${path}`)
  })
  return app
}

export type App = ReturnType<typeof createApp>
