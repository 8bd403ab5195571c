/**
 * The pages' renderer (src/web/html.ts) against preact-render-to-string, the renderer Preact's own
 * project ships: for the console's components and for every attribute rule they rely on, the same
 * HTML byte for byte. What it does not render (class components, style objects, SVG) it refuses.
 */
import { render } from 'preact-render-to-string'
import { describe, expect, it } from 'vitest'
import { escapeHtml, renderHtml } from '../src/web/html.ts'
import { escaping, refused, samples } from './support/html-samples.tsx'

describe('the pages renderer', () => {
  for (const [name, sample] of Object.entries(samples)) {
    it(`renders ${name} as preact-render-to-string does`, () => {
      const html = renderHtml(sample())
      expect(html.length).toBeGreaterThan(50)
      expect(html).toBe(render(sample()))
    })
  }

  it('escapes text and attribute values', () => {
    expect(escapeHtml('a "b" & <c> d')).toBe('a &quot;b&quot; &amp; &lt;c> d')
    expect(escapeHtml('plain')).toBe('plain')
    expect(renderHtml(escaping())).toBe('<a href="/x?a=1&amp;b=2" title="&quot;>&lt;script>">&lt;/a>&lt;script></a>')
  })

  it('refuses what pages do not use rather than render it differently', () => {
    expect(() => renderHtml(refused.classComponent())).toThrow(/class components/)
    expect(() => renderHtml(refused.styleObject())).toThrow(/style objects/)
    expect(() => renderHtml(refused.svg())).toThrow(/SVG/)
  })
})
