/**
 * Prometheus metrics at GET /metrics: process metrics and, per matched route (never the raw path, which
 * would let any client create unbounded series), request counts by status and latency.
 */
import client from 'prom-client'

export function createMetrics() {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry, prefix: 'partnerd_' })
  const requests = new client.Counter({
    name: 'partnerd_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  })
  const duration = new client.Histogram({
    name: 'partnerd_http_request_duration_seconds',
    help: 'Time from request to response, by method and route pattern.',
    labelNames: ['method', 'route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  return {
    contentType: registry.contentType,
    observe(method: string, route: string, status: number, seconds: number) {
      requests.inc({ method, route, status: String(status) })
      duration.observe({ method, route }, seconds)
    },
    render: () => registry.metrics(),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
