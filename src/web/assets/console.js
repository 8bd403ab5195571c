/*
 * The little script of the console and the portal. Every page works without it; it only adds:
 * the menu button on small screens, dates in the reader's time zone (UTC on hover), copy buttons,
 * the bar of bulk actions, and charts drawn from the tables beside them. It runs on load and again
 * on every part of the page htmx swaps in. No inline script, no eval: the CSP allows neither.
 */
;(() => {
  document.documentElement.classList.add('js')

  const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
  const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' })
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })

  /** "3 hours ago" within a week, else the date and time; both in the reader's zone and language. */
  function readable(at) {
    const minutes = (at.getTime() - Date.now()) / 60_000
    if (Math.abs(minutes) < 1) return relative.format(0, 'minute')
    if (Math.abs(minutes) < 60) return relative.format(Math.round(minutes), 'minute')
    if (Math.abs(minutes) < 24 * 60) return relative.format(Math.round(minutes / 60), 'hour')
    if (Math.abs(minutes) < 7 * 24 * 60) return relative.format(Math.round(minutes / 1440), 'day')
    return dateTime.format(at)
  }

  /** Each <time datetime>: readable text; the exact UTC time on hover. Dates (data-format=date) stay dates. */
  function localizeTimes(root) {
    for (const el of root.querySelectorAll('time[datetime]')) {
      if (el.dataset.localized) continue
      const at = new Date(el.getAttribute('datetime'))
      if (Number.isNaN(at.getTime())) continue
      el.dataset.localized = '1'
      el.title = `${at.toISOString().replace('T', ' ').slice(0, 16)} UTC`
      el.textContent = el.dataset.format === 'date' ? dateOnly.format(at) : readable(at)
    }
  }

  function wireMenu(root) {
    for (const button of root.querySelectorAll('[data-menu-button]')) {
      if (button.dataset.wired) continue
      button.dataset.wired = '1'
      const nav = document.getElementById(button.getAttribute('aria-controls'))
      if (!nav) continue
      nav.dataset.collapsed = 'true'
      button.addEventListener('click', () => {
        const open = button.getAttribute('aria-expanded') !== 'true'
        button.setAttribute('aria-expanded', String(open))
        nav.dataset.collapsed = String(!open)
      })
    }
  }

  function wireCopy(root) {
    for (const button of root.querySelectorAll('button[data-copy]')) {
      if (button.dataset.wired) continue
      button.dataset.wired = '1'
      button.hidden = false
      button.addEventListener('click', async () => {
        const source = document.getElementById(button.dataset.copy)
        const text = source && ('value' in source ? source.value : source.textContent)
        try {
          await navigator.clipboard.writeText(text ?? '')
          button.textContent = 'Copied'
        } catch {
          source?.select?.()
          button.textContent = 'Press Ctrl+C'
        }
        setTimeout(() => {
          button.textContent = button.dataset.label || 'Copy'
        }, 2000)
      })
    }
  }

  /** Checkboxes named in a bulk form: a select-all box and a bar that shows the count selected. */
  function wireBulk(root) {
    for (const bar of root.querySelectorAll('[data-bulk-bar]')) {
      if (bar.dataset.wired) continue
      bar.dataset.wired = '1'
      const form = bar.closest('form') ?? document.getElementById(bar.dataset.form)
      if (!form) continue
      const boxes = () => [...form.querySelectorAll('input[type=checkbox][name="ids"]')]
      const all = form.querySelector('input[type=checkbox][data-select-all]')
      const count = bar.querySelector('[data-bulk-count]')
      const update = () => {
        const n = boxes().filter((b) => b.checked).length
        bar.dataset.count = String(n)
        if (count) count.textContent = `${n} selected`
        if (all) {
          all.checked = n > 0 && n === boxes().length
          all.indeterminate = n > 0 && n < boxes().length
        }
      }
      form.addEventListener('change', (event) => {
        if (event.target === all) for (const box of boxes()) box.checked = all.checked
        update()
      })
      update()
    }
  }

  /** The chart library, fetched once, the first time a page has a chart. */
  let chartLibrary
  function loadCharts() {
    chartLibrary ??= new Promise((resolve, reject) => {
      const script = document.createElement('script')
      script.src = document.querySelector('meta[name="partnerd-charts"]')?.getAttribute('content') ?? ''
      script.onload = resolve
      script.onerror = reject
      document.head.append(script)
    })
    return chartLibrary
  }

  /** Draws each chart from the numbers of the table in its figure (the table stays, for readers and copying). */
  function drawCharts(root) {
    const figures = root.querySelectorAll('figure.chart[data-chart]:not([data-drawn])')
    if (figures.length === 0) return
    if (typeof window.uPlot !== 'function') {
      loadCharts().then(
        () => drawCharts(root),
        () => {},
      )
      return
    }
    for (const figure of figures) {
      if (figure.dataset.drawn) continue
      const table = figure.querySelector('table')
      const plot = figure.querySelector('.plot')
      if (!table || !plot) continue
      figure.dataset.drawn = '1'
      const heads = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim())
      const rows = [...table.querySelectorAll('tbody tr')]
      const xs = rows.map((tr) => Date.parse(tr.querySelector('[data-x]')?.getAttribute('data-x') ?? '') / 1000)
      const series = heads.slice(1).map((_, i) => rows.map((tr) => Number(tr.children[i + 1]?.getAttribute('data-value') ?? Number.NaN)))
      // The page's own ink and rules, so the axes read in dark mode as in light; the first line in the accent colour.
      const style = getComputedStyle(figure)
      const ink = style.color
      const rule = style.getPropertyValue('--pico-muted-border-color').trim() || 'rgba(128, 128, 128, 0.3)'
      const accent = style.getPropertyValue('--pico-primary').trim() || '#0172ad'
      const colours = [accent, '#1f9d60', '#b07d00', '#d13b2e']
      const axis = (extra) => ({ stroke: ink, grid: { stroke: rule, width: 1 }, ticks: { stroke: rule, width: 1 }, ...extra })
      const width = () => Math.max(280, plot.clientWidth)
      const chart = new window.uPlot(
        {
          width: width(),
          height: 220,
          series: [
            {},
            ...heads
              .slice(1)
              .map((label, i) => ({ label, stroke: colours[i % colours.length], width: 2, scale: i === 0 ? 'left' : 'right' })),
          ],
          axes: [axis({}), axis({ scale: 'left' }), axis({ scale: 'right', side: 1, grid: { show: false } })],
          scales: { x: { time: true } },
        },
        [xs, ...series],
        plot,
      )
      new ResizeObserver(() => chart.setSize({ width: width(), height: 220 })).observe(plot)
    }
  }

  function init(root) {
    wireMenu(root)
    localizeTimes(root)
    wireCopy(root)
    wireBulk(root)
    drawCharts(root)
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => init(document))
  else init(document)
  document.addEventListener('htmx:after:settle', (event) => init(event.target instanceof Element ? event.target : document))
})()
