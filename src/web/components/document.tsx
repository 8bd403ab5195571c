/**
 * The HTML document every page is: head with the hashed assets, and a body that htmx boosts (links
 * and forms fetch and swap the page, so it feels instant; without script they are plain links and
 * forms). The CSRF token rides on every htmx request as a header and in every form as a field.
 */
import type { ComponentChildren } from 'preact'
import type { AssetName } from '../assets/index.ts'
import { CSRF_HEADER } from '../security.ts'

export interface DocumentProps {
  title: string
  locale: string
  assets: Record<AssetName, string>
  /** The session's CSRF token, when someone is signed in. */
  csrf?: string
  children: ComponentChildren
}

// htmx 4: no indicator stylesheet of its own (our CSS has the rule); 4xx answers (a form with errors) are swapped in.
const HTMX_CONFIG = JSON.stringify({ includeIndicatorCSS: false })

export function Document({ title, locale, assets, csrf, children }: DocumentProps) {
  const body: Record<string, string> = { 'hx-boost:inherited': 'true' }
  if (csrf) body['hx-headers:inherited'] = JSON.stringify({ [CSRF_HEADER]: csrf })
  return (
    <html lang={locale}>
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{title}</title>
        <link rel="icon" href="data:," />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        {/* The chart library, loaded by the page script only where a page (or a part htmx swaps in) has a chart. */}
        <meta name="partnerd-charts" content={assets['uplot.js']} />
        <link rel="stylesheet" href={assets['pico.css']} />
        <link rel="stylesheet" href={assets['uplot.css']} />
        <link rel="stylesheet" href={assets['console.css']} />
        <script src={assets['htmx.js']} defer />
        <script src={assets['console.js']} defer />
      </head>
      <body {...body}>{children}</body>
    </html>
  )
}
