/** A real partnerd listening on a free loopback port, over a fresh database of the given dialect. */
import type { Dialect } from '../../src/db/database.ts'
import type { AccessLog } from '../../src/log/access-log.ts'
import type { Logger } from '../../src/log/logger.ts'
import { openRuntime, type Runtime } from '../../src/runtime.ts'
import { startServer } from '../../src/server.ts'
import { testConfig } from './databases.ts'

export interface TestServer {
  url: string
  runtime: Runtime
  /** The admin API key minted on first start (single mode, no admin key configured). */
  adminKey: string
  stop(): Promise<void>
  /** fetch relative to the server, JSON body and Bearer key made easy. */
  call(method: string, path: string, options?: { key?: string; body?: unknown; headers?: Record<string, string> }): Promise<Response>
}

export async function startTestServer(
  dialect: Dialect,
  overrides: Record<string, unknown> = {},
  options: { log?: Logger; accessLog?: AccessLog } = {},
): Promise<TestServer> {
  const loaded = await testConfig(dialect, overrides)
  const runtime = await openRuntime(loaded, { migrate: true, log: options.log, accessLog: options.accessLog })
  const server = await startServer(runtime)
  return {
    url: server.url,
    runtime,
    adminKey: server.bootstrapKey ?? '',
    stop: async () => {
      await server.stop()
      await runtime.close()
    },
    call: (method, path, options = {}) => {
      const headers: Record<string, string> = { ...options.headers }
      if (options.key) headers.authorization = `Bearer ${options.key}`
      let body: string | undefined
      if (options.body !== undefined) {
        headers['content-type'] ??= 'application/json'
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body)
      }
      return fetch(server.url + path, { method, headers, body })
    },
  }
}
