/**
 * The request metrics are counted by partnerd (http/metrics.ts) rather than by prom-client's Counter
 * and Histogram, for speed: their exposition must be the very text those classes would write.
 */
import client from 'prom-client'
import { describe, expect, it } from 'vitest'
import { CONTENT_TYPE, createMetrics, DURATION_BUCKETS, HELP } from '../src/http/metrics.ts'

const OBSERVATIONS: [string, string, number, number][] = [
  ['GET', '/health', 200, 0.0004],
  ['GET', '/health', 200, 0.001], // on a bound: counted in that bucket
  ['GET', '/r/:linkKey', 302, 0.0031],
  ['GET', '/r/:linkKey', 404, 0.02],
  ['POST', '/api/partners', 201, 0.3],
  ['POST', '/api/partners', 409, 7], // above every bound
  ['GET', '/r/:linkKey', 302, 0.0009],
]

/** The same families, from prom-client's own classes. */
async function reference(): Promise<string> {
  const registry = new client.Registry()
  const requests = new client.Counter({
    name: 'partnerd_http_requests_total',
    help: HELP.partnerd_http_requests_total,
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  })
  const duration = new client.Histogram({
    name: 'partnerd_http_request_duration_seconds',
    help: HELP.partnerd_http_request_duration_seconds,
    labelNames: ['method', 'route'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  })
  for (const [method, route, status, seconds] of OBSERVATIONS) {
    requests.inc({ method, route, status: String(status) })
    duration.observe({ method, route }, seconds)
  }
  return registry.metrics()
}

/** Our registry's text, without the process metrics. */
async function ours(): Promise<string> {
  const metrics = createMetrics()
  for (const [method, route, status, seconds] of OBSERVATIONS) metrics.observe(method, route, status, seconds)
  const families = (await metrics.render()).split('\n\n').filter((family) => family.includes('partnerd_http_'))
  return `${families.join('\n\n').trimEnd()}\n`
}

describe('request metrics', () => {
  it('expose the same text as prom-client’s Counter and Histogram would', async () => {
    const [mine, theirs] = await Promise.all([ours(), reference()])
    expect(mine).toBe(theirs)
    expect(mine).toContain('partnerd_http_request_duration_seconds_bucket{le="+Inf",method="POST",route="/api/partners"} 2')
  })

  it('are served with prom-client’s content type, and its process metrics from the first scrape', async () => {
    expect(CONTENT_TYPE).toBe(client.Registry.PROMETHEUS_CONTENT_TYPE)
    const text = await createMetrics().render()
    expect(text).toContain('partnerd_process_resident_memory_bytes')
    expect(text).toContain('partnerd_nodejs_eventloop_lag_seconds')
  })
})
