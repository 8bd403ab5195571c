/** JSX for test/html.test.ts: the console's components, and every attribute rule they rely on. */
import { Component } from 'preact'
import { Document } from '../../src/web/components/document.tsx'
import { Checkboxes, ErrorSummary, Input, Select, TextArea } from '../../src/web/components/field.tsx'
import { Frame } from '../../src/web/components/frame.tsx'
import { Status } from '../../src/web/components/status.tsx'
import { DataTable, EmptyState, Pager } from '../../src/web/components/table.tsx'
import { Time } from '../../src/web/components/time.tsx'
import { formatterFor } from '../../src/web/format.ts'

const fmt = formatterFor('en')
const assets = {
  'pico.css': '/a/p.css',
  'uplot.css': '/a/u.css',
  'console.css': '/a/c.css',
  'htmx.js': '/a/h.js',
  'console.js': '/a/c.js',
  'uplot.js': '/a/u.js',
}

const rows = Array.from({ length: 20 }, (_, i) => ({
  id: `com_${i}`,
  at: `2026-05-0${(i % 9) + 1}T10:00:00.000Z`,
  who: i % 3 ? `Ada & "Co" <${i}>` : null,
  amount: `${i}.50`,
  status: ['accrued', 'flagged', 'paid', 'unknown'][i % 4]!,
}))

export const samples: Record<string, () => preact.JSX.Element> = {
  'a console page': () => (
    <Document title="Commissions · Acme & Sons · partnerd" locale="en" assets={assets as never} csrf='to"ken'>
      <Frame
        brand={{ label: 'partnerd', href: '/admin' }}
        nav={[
          [
            { section: 'overview', label: 'Overview', href: '/admin' },
            {
              section: 'commissions',
              label: 'Commissions',
              href: '/admin/commissions',
              count: 100,
              countText: '99+',
              countLabel: 'flagged',
            },
          ],
          [{ section: 'keys', label: 'API keys', href: '/admin/keys', count: 0 }],
        ]}
        current="commissions"
        organization={{ name: 'Acme', others: [{ name: 'Other <org>', href: '/t/other/admin' }] }}
        person={{ email: 'ada@example.com', accountHref: '/admin/account', signOutAction: '/sign-out' }}
        csrf="token"
        flash={{ kind: 'ok', text: 'Approved 3 commissions.' }}
      >
        <DataTable
          caption="Commissions, newest first"
          rows={rows}
          rowId={(r) => `commission-${r.id}`}
          sort={{ key: 'when', descending: true, href: (_k, d) => `/admin/commissions?sort=${d ? 'newest' : 'oldest'}&x=1` }}
          select={(r) => (r.status === 'paid' ? undefined : r.id)}
          columns={[
            { label: 'When', sort: 'when', cell: (r) => <Time at={r.at} fmt={fmt} /> },
            { label: 'Partner', cell: (r) => <a href={`/admin/partners/${r.id}?a=1&b=2`}>{r.who ?? r.id}</a> },
            { label: 'Amount', num: true, cell: (r) => fmt.money(r.amount, 'USD') },
            { label: 'Status', cell: (r) => <Status value={r.status} /> },
            { label: 'Count', num: true, cell: (_r) => 42 },
            {
              label: 'Actions',
              hiddenLabel: true,
              cell: (r) => r.status === 'flagged' && [<a href="/x">Clear…</a>, <a href="/y">Reject…</a>],
            },
          ]}
        />
        <Pager first="/admin/commissions" next="/admin/commissions?cursor=abc&sort=oldest" count="20 of 100" />
        <EmptyState title="No commissions yet" text="They accrue." api={`curl -d '{"a":1}' http://x/api`} />
      </Frame>
    </Document>
  ),
  'form fields': () => (
    <form>
      <ErrorSummary errors={{ email: 'Enter an email', '': 'The form is wrong' }} labels={{ email: 'Email' }} />
      <Input name="email" label="Email" type="email" required value='a"b@example.com' error="Enter an email" hint="Where mail goes." />
      <Input name="empty" label="Empty" value="" />
      <Select
        name="status"
        label="Status"
        value="b"
        empty="Any"
        options={[
          { value: 'a', label: 'A' },
          { value: 'b', label: 'B & C' },
        ]}
      />
      <TextArea name="notes" label="Notes" value={'line <1>\n& "2"'} rows={3} />
      <Checkboxes
        name="scopes"
        label="Scopes"
        checked={['read']}
        options={[
          { value: 'read', label: 'Read' },
          { value: 'write', label: 'Write', hint: 'careful' },
        ]}
      />
    </form>
  ),
  'attribute rules': () => (
    <button
      type="button"
      id="x"
      className="by-classname"
      tabIndex={-1}
      aria-hidden={true}
      aria-expanded={false}
      data-count={0}
      data-on
      draggable={true}
      hidden
      title=""
      hx-boost:inherited="true"
      onClick={() => {}}
    >
      <label htmlFor="f">Label</label>
      <input id="f" readOnly maxLength={3} defaultValue="v" defaultChecked disabled={false} />
      <select value="2">
        <option value="1">One</option>
        <option value="2">Two</option>
      </select>
      {/* A number matches its option's text value, as in the browser. */}
      <select value={2}>
        <option value="1">One</option>
        <option value="2">Two</option>
      </select>
      <textarea value="inside" />
      <p dangerouslySetInnerHTML={{ __html: '<b>raw</b>' }} />
      <br />
      {[['nested', [1, 2n, null, undefined, true, false, '']], 'text & <tag> "q"']}
      {/* biome-ignore lint/complexity/noUselessFragments: a fragment inside an element is what this sample renders */}
      <>
        fragment <span>child</span>
      </>
    </button>
  ),
}

/** What the renderer refuses. */
export const refused = {
  classComponent: () => {
    class Counter extends Component {
      render() {
        return <span>1</span>
      }
    }
    return <Counter />
  },
  styleObject: () => <div style={{ color: 'red' }} />,
  svg: () => <svg />,
}

export const escaping = () => (
  <a href="/x?a=1&b=2" title={'"><script>'}>
    {'</a><script>'}
  </a>
)
