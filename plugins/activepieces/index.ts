/**
 * activepieces: the server side of partnerd's ActivePieces piece (integrations/activepieces), under
 * /integrations/activepieces: the same contract as Zapier's (plugins/automation/routes.ts).
 *
 *   plugins:
 *     - builtin: activepieces
 */
import type { PluginDefinition } from '../../src/plugins/contract.ts'
import { automationRoutes } from '../automation/routes.ts'

const activepieces: PluginDefinition = {
  name: 'activepieces',
  version: '1.0.0',
  setup: (host) => automationRoutes(host, '/integrations/activepieces', 'ActivePieces'),
}

export default activepieces
