/**
 * The row of filters above a list: a GET form whose state is the URL (a filtered view can be
 * bookmarked and shared). With htmx it swaps the results in place and updates the address bar;
 * without, it loads the page.
 */
import type { ComponentChildren } from 'preact'

export function Filters({ action, results = 'results', children }: { action: string; results?: string; children: ComponentChildren }) {
  return (
    <search aria-label="Filters">
      <form
        method="get"
        action={action}
        class="filters"
        hx-get={action}
        hx-trigger="submit, change"
        hx-target={`#${results}`}
        hx-select={`#${results}`}
        hx-swap="outerHTML"
        hx-push-url="true"
      >
        {children}
        <button type="submit" class="secondary">
          Apply
        </button>
      </form>
    </search>
  )
}
