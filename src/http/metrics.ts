/**
 * Prometheus metrics at GET /metrics: process metrics and, per matched route (never the raw path, which
 * would let any client create unbounded series), request counts by status and latency.
 *
 * The two request families are counted here in plain numbers, one record per series, and handed to
 * prom-client's registry when it is scraped, in the shape its own Counter and Histogram hand over
 * (test/metrics.test.ts holds the text to theirs). prom-client's classes validate and hash the labels
 * on every observation: 2 µs of each request, measured on the click router.
 *
 * prom-client itself is imported at the first scrape, not at start (its module and its process
 * collectors were some 15 ms of every start). The process metrics it reads at a scrape (CPU, memory,
 * file descriptors, start time) lose nothing by it; the event loop's lag and the GC's pauses are
 * sampled from the first scrape on.
 */
import type { Metric, Registry } from 'prom-client'

const REQUESTS = 'partnerd_http_requests_total'
const DURATION = 'partnerd_http_request_duration_seconds'
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
export const HELP = {
  [REQUESTS]: 'HTTP requests answered, by method, route pattern and status.',
  [DURATION]: 'Time from request to response, by method and route pattern.',
}

interface Counted {
  labels: { method: string; route: string; status: string }
  count: number
}

interface Timed {
  labels: { method: string; route: string }
  /** Observations per bucket (not cumulative); the last counts those above every bound. */
  perBucket: number[]
  sum: number
  count: number
}

/** One exported sample, as prom-client's registry reads it. */
interface Sample {
  metricName?: string
  labels: Record<string, string | number>
  sharedLabels?: Record<string, string>
  value: number
}

/** prom-client's Registry.PROMETHEUS_CONTENT_TYPE (test/metrics.test.ts holds it to theirs). */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export function createMetrics() {
  const counted = new Map<string, Counted>()
  const timed = new Map<string, Timed>()
  /**
   * The same records found by route, then method, then status, with no key built: every request
   * observes, and a key made of its labels was a new string to hash each time (the flat maps above
   * keep the order the series appeared in, which the export follows).
   */
  const byRoute = new Map<string, Map<string, { timed: Timed; byStatus: Map<number, Counted> }>>()
  const seriesOf = (method: string, route: string) => {
    let byMethod = byRoute.get(route)
    if (!byMethod) {
      byMethod = new Map()
      byRoute.set(route, byMethod)
    }
    let series = byMethod.get(method)
    if (!series) {
      const key = `${method} ${route}`
      let t = timed.get(key)
      if (!t) {
        t = { labels: { method, route }, perBucket: new Array(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }
        timed.set(key, t)
      }
      series = { timed: t, byStatus: new Map() }
      byMethod.set(method, series)
    }
    return series
  }
  let registry: Promise<Registry> | undefined
  const makeRegistry = async () => {
    const { default: client } = await import('prom-client')
    const made = new client.Registry()
    client.collectDefaultMetrics({ register: made, prefix: 'partnerd_' })
    register(made, REQUESTS, 'counter', () => [...counted.values()].map(({ labels, count }) => ({ labels, value: count })))
    register(made, DURATION, 'histogram', () =>
      [...timed.values()].flatMap(({ labels, perBucket, sum, count }): Sample[] => {
        let cumulative = 0
        const buckets: Sample[] = DURATION_BUCKETS.map((le, i) => {
          cumulative += perBucket[i]!
          return { metricName: `${DURATION}_bucket`, labels: { le }, sharedLabels: labels, value: cumulative }
        })
        return [
          ...buckets,
          { metricName: `${DURATION}_bucket`, labels: { le: '+Inf' }, sharedLabels: labels, value: count },
          { metricName: `${DURATION}_sum`, labels: {}, sharedLabels: labels, value: sum },
          { metricName: `${DURATION}_count`, labels: {}, sharedLabels: labels, value: count },
        ]
      }),
    )
    return made
  }

  return {
    contentType: CONTENT_TYPE,
    observe(method: string, route: string, status: number, seconds: number) {
      const series = seriesOf(method, route)
      let c = series.byStatus.get(status)
      if (!c) {
        const statusKey = `${method} ${route} ${status}`
        c = counted.get(statusKey)
        if (!c) {
          c = { labels: { method, route, status: String(status) }, count: 0 }
          counted.set(statusKey, c)
        }
        series.byStatus.set(status, c)
      }
      c.count++
      const t = series.timed
      let bucket = 0
      while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++
      t.perBucket[bucket]!++
      t.sum += seconds
      t.count++
    },
    render: async () => {
      registry ??= makeRegistry()
      return (await registry).metrics()
    },
  }
}

export type Metrics = ReturnType<typeof createMetrics>

/**
 * A metric family read at scrape time. prom-client's registry takes any object that answers get()
 * (and getForPromString() for the text format) as its own metrics do; this one answers from `samples`.
 */
function register(registry: Registry, name: keyof typeof HELP, type: 'counter' | 'histogram', samples: () => Sample[]) {
  const family = (values: Sample[]) => ({ name, help: HELP[name], type, values, aggregator: 'sum' as const })
  const metric = {
    name,
    help: HELP[name],
    type,
    aggregator: 'sum',
    getForPromString: async () => family(samples()),
    // The JSON form has the shared labels folded in, as prom-client's Histogram gives it.
    get: async () => family(samples().map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } }))),
    reset: () => {},
  }
  registry.registerMetric(metric as unknown as Metric)
}
