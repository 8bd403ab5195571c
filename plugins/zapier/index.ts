/**
 * zapier: the server side of partnerd's Zapier integration (integrations/zapier, published with the
 * Zapier CLI), under /integrations/zapier: see plugins/automation/routes.ts for the contract.
 *
 *   plugins:
 *     - builtin: zapier
 */
import type { PluginDefinition } from '../../src/plugins/contract.ts'
import { automationRoutes } from '../automation/routes.ts'

const zapier: PluginDefinition = {
  name: 'zapier',
  version: '1.0.0',
  setup: (host) => automationRoutes(host, '/integrations/zapier', 'Zapier'),
}

export default zapier
