/**
 * The OpenAPI document at GET /api/openapi.json, generated from the routes by @elysiajs/openapi's
 * converter the first time it is asked for (and again only if routes were added since). The
 * converter is imported then, not at start: no start pays for a document nobody may read. Its page
 * is our own (reference-page.ts), so the package's plugin, with its UI, is not used.
 */
import type { AnyElysia } from 'elysia'
import { sessionCookie } from '../auth/sessions/cookie.ts'
import type { Config } from '../config/schema.ts'
import { VERSION } from '../version.ts'
import type { OpenApiDocument } from './reference-page.ts'

export const OPENAPI_PATH = '/api/openapi.json'
const OPENAPI_VERSION = '3.1.2'

export function openApiDocument(config: Config, excludePaths: string[]) {
  const documentation = {
    info: {
      title: 'partnerd',
      version: VERSION,
      description: `Partner program API. Base URL: ${config.mode === 'single' ? '/api' : '/api/t/{slug}'}. Errors are {error, detail}.`,
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key or admin key as a Bearer token.' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'The same key in x-api-key.' },
        sessionCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: sessionCookie(config).name,
          description: 'A signed-in person’s session; the role in the organization grants the scopes.',
        },
      },
    },
  }
  let cached: { routes: number; document: OpenApiDocument & Record<string, unknown> } | undefined
  return async (app: AnyElysia): Promise<OpenApiDocument & Record<string, unknown>> => {
    if (cached?.routes === app.routes.length) return cached.document
    const { toOpenAPISchema } = await import('@elysiajs/openapi/openapi')
    const { paths, components } = toOpenAPISchema(app, { paths: excludePaths }, undefined, undefined, OPENAPI_VERSION)
    const document = {
      openapi: OPENAPI_VERSION,
      info: documentation.info,
      paths: paths as OpenApiDocument['paths'],
      components: { ...documentation.components, schemas: components.schemas },
    }
    cached = { routes: app.routes.length, document }
    return document
  }
}
