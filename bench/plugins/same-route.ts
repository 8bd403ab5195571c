/**
 * Two routes with one handler, one open and one behind the auth guard, so the benchmark measures what
 * authentication adds to the same work and nothing else.
 */
import type { PluginDefinition } from '../../src/plugins/contract.ts'

const sameRoute: PluginDefinition = {
  name: 'bench-same-route',
  version: '1.0.0',
  setup(host) {
    const handler = ({ tenant }: { tenant: { id: string; slug: string } }) => ({ id: tenant.id, slug: tenant.slug })
    host.routes((api) => api.get('/bench/open', handler).get('/bench/guarded', handler, { auth: true }))
  },
}

export default sameRoute
