/** Sibling pages of one area (the API keys and a plugin's credentials): links, the current one marked. */
export function Tabs({ label, tabs, current }: { label: string; tabs: { href: string; label: string }[]; current: string }) {
  if (tabs.length < 2) return null
  return (
    <nav class="tabs" aria-label={label}>
      <ul>
        {tabs.map((t) => (
          <li>
            <a href={t.href} aria-current={t.href === current ? 'page' : undefined}>
              {t.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  )
}
