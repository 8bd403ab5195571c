/**
 * partnerd's Zapier integration, as published with the Zapier CLI (`zapier push` from this folder,
 * with zapier-platform-core as its dependency). It talks to the server side in plugins/zapier:
 * enable that plugin, and connect with the API base URL (`https://partners.example.com/api`, or
 * `…/api/t/<slug>`) and an API key whose scopes allow what the Zaps do.
 */
const zapier = require('zapier-platform-core')

const base = (bundle) => bundle.authData.baseUrl.replace(/\/+$/, '')

const authentication = {
  type: 'custom',
  fields: [
    { key: 'baseUrl', label: 'API base URL', required: true, helpText: 'https://partners.example.com/api, or …/api/t/<slug>' },
    { key: 'apiKey', label: 'API key', required: true, type: 'password' },
  ],
  test: (z, bundle) => z.request({ url: `${base(bundle)}/integrations/zapier/me` }).then((r) => r.data),
  connectionLabel: (_z, bundle) => bundle.inputData.tenant?.name ?? 'partnerd',
}

const withApiKey = (request, _z, bundle) => {
  if (bundle.authData?.apiKey) request.headers.Authorization = `Bearer ${bundle.authData.apiKey}`
  return request
}

/** A REST-hook trigger: Zapier subscribes its target URL; each delivery's `data` is one item. */
function hookTrigger(key, event, noun, label, sample) {
  return {
    key,
    noun,
    display: { label, description: `Triggers when ${label.toLowerCase()}.` },
    operation: {
      type: 'hook',
      performSubscribe: (z, bundle) =>
        z
          .request({ url: `${base(bundle)}/integrations/zapier/hooks`, method: 'POST', body: { hookUrl: bundle.targetUrl, event } })
          .then((r) => r.data),
      performUnsubscribe: (z, bundle) =>
        z.request({ url: `${base(bundle)}/integrations/zapier/hooks/${bundle.subscribeData.id}`, method: 'DELETE' }).then((r) => r.data),
      perform: (_z, bundle) => [bundle.cleanedRequest.data],
      performList: (z, bundle) => z.request({ url: `${base(bundle)}/integrations/zapier/triggers/${event}` }).then((r) => r.data),
      sample,
    },
  }
}

const triggers = [
  hookTrigger('partner_created', 'partner.created', 'Partner', 'New Partner', {
    id: '01J0000000000000000000000',
    email: 'ada@example.com',
    name: 'Ada',
    status: 'active',
  }),
  hookTrigger('commission_accrued', 'commission.accrued', 'Commission', 'New Commission', {
    id: 'com_01J0000000000000000000000',
    partnerId: '01J0000000000000000000000',
    amount: '20.00',
    currency: 'USD',
    status: 'accrued',
  }),
  hookTrigger('commission_approved', 'commission.approved', 'Commission', 'Commission Approved', {
    id: 'com_01J0000000000000000000000',
    partnerId: '01J0000000000000000000000',
    amount: '20.00',
    currency: 'USD',
    status: 'approved',
  }),
  hookTrigger('payout_paid', 'payout.paid', 'Payout', 'Payout Paid', {
    id: 'pay_01J0000000000000000000000',
    partnerId: '01J0000000000000000000000',
    amount: '120.00',
    currency: 'USD',
    status: 'paid',
  }),
]

const creates = [
  {
    key: 'create_partner',
    noun: 'Partner',
    display: { label: 'Create Partner', description: 'Adds a partner to the program.' },
    operation: {
      inputFields: [
        { key: 'email', required: true },
        { key: 'name', required: false },
      ],
      perform: (z, bundle) =>
        z
          .request({
            url: `${base(bundle)}/integrations/zapier/actions/create-partner`,
            method: 'POST',
            body: { email: bundle.inputData.email, name: bundle.inputData.name || undefined },
          })
          .then((r) => r.data),
      sample: { id: '01J0000000000000000000000', email: 'ada@example.com', name: 'Ada', status: 'active' },
    },
  },
  {
    key: 'record_event',
    noun: 'Event',
    display: { label: 'Record Conversion Event', description: 'Records a signup, sale or refund for attribution.' },
    operation: {
      inputFields: [
        { key: 'userId', label: 'Customer id', required: true },
        { key: 'type', required: true, choices: ['signup', 'sale', 'refund', 'opportunity_won'] },
        { key: 'value', required: false },
        { key: 'currency', required: false },
        { key: 'externalEventId', label: 'Event id in your system', required: true },
      ],
      perform: (z, bundle) => {
        const { userId, type, value, currency, externalEventId } = bundle.inputData
        return z
          .request({
            url: `${base(bundle)}/integrations/zapier/actions/record-event`,
            method: 'POST',
            body: { userId, type, externalEventId, ...(value ? { value, currency } : {}) },
          })
          .then((r) => r.data)
      },
      sample: { id: 'evt_01J0000000000000000000000', attribution: { status: 'attributed' } },
    },
  },
]

module.exports = {
  version: '1.0.0',
  platformVersion: zapier.version,
  authentication,
  beforeRequest: [withApiKey],
  triggers: Object.fromEntries(triggers.map((t) => [t.key, t])),
  creates: Object.fromEntries(creates.map((c) => [c.key, c])),
}
