/**
 * The core migrations, in order. Listed by hand because a compiled binary has no folder to read them
 * from; test/migrations.test.ts fails when a file in this folder is missing here.
 */
import type { Migration } from 'kysely/migration'
import * as foundation from './0001_foundation.ts'
import * as identity from './0002_identity.ts'
import * as apiKeyIndex from './0003_api_key_index.ts'
import * as partners from './0004_partners.ts'
import * as programs from './0005_programs.ts'
import * as tracking from './0006_tracking.ts'
import * as commissions from './0007_commissions.ts'
import * as partnerAccess from './0008_partner_access.ts'
import * as webhooks from './0009_webhooks.ts'
import * as postbacks from './0010_postbacks.ts'
import * as clickCounts from './0011_click_counts.ts'
import * as programClickTotals from './0012_program_click_totals.ts'
import * as accountLinks from './0013_account_links.ts'
import * as deliveryResponses from './0014_delivery_responses.ts'
import * as commissionLists from './0015_commission_lists.ts'
import * as sealedSecrets from './0016_sealed_secrets.ts'
import * as tenantCurrency from './0017_tenant_currency.ts'
import * as activationAndRuns from './0018_activation_and_runs.ts'
import * as memberOrganizations from './0019_member_organizations.ts'

export const coreMigrations: Record<string, Migration> = {
  '0001_foundation': foundation,
  '0002_identity': identity,
  '0003_api_key_index': apiKeyIndex,
  '0004_partners': partners,
  '0005_programs': programs,
  '0006_tracking': tracking,
  '0007_commissions': commissions,
  '0008_partner_access': partnerAccess,
  '0009_webhooks': webhooks,
  '0010_postbacks': postbacks,
  '0011_click_counts': clickCounts,
  '0012_program_click_totals': programClickTotals,
  '0013_account_links': accountLinks,
  '0014_delivery_responses': deliveryResponses,
  '0015_commission_lists': commissionLists,
  '0016_sealed_secrets': sealedSecrets,
  '0017_tenant_currency': tenantCurrency,
  '0018_activation_and_runs': activationAndRuns,
  '0019_member_organizations': memberOrganizations,
}
