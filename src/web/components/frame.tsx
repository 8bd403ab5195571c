/**
 * The console's frame: a left navigation (the current page marked, counts that ask for work beside
 * their item), a top bar with the organization (a switcher when the person is in several) and the
 * person's menu, then the page. Under 768 px the navigation folds behind a menu button.
 */
import type { ComponentChildren } from 'preact'
import { Csrf } from './field.tsx'
import { Flash, type FlashMessage } from './flash.tsx'

export interface NavItem {
  section: string
  label: string
  href: string
  count?: number
  /** The count as shown, when not the number itself ("99+"). */
  countText?: string
  countLabel?: string
}

export interface FrameProps {
  brand: { label: string; href: string }
  nav: NavItem[][]
  current: string
  organization: { name: string; others: { name: string; href: string }[] }
  person: { email: string; accountHref: string; signOutAction: string }
  csrf: string
  flash?: FlashMessage
  children: ComponentChildren
}

export function Frame({ brand, nav, current, organization, person, csrf, flash, children }: FrameProps) {
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to the content
      </a>
      <div class="frame">
        <aside class="sidebar">
          <a class="brand" href={brand.href}>
            {brand.label}
          </a>
          <button type="button" class="menu-button secondary outline" data-menu-button aria-controls="site-nav" aria-expanded="false">
            Menu
          </button>
          <nav id="site-nav" aria-label="Main">
            {nav.map((group, i) => (
              <>
                {i > 0 && <hr />}
                <ul>
                  {group.map((item) => (
                    <li>
                      <a href={item.href} aria-current={item.section === current ? 'page' : undefined}>
                        <span>{item.label}</span>
                        {item.count ? (
                          <span class="count">
                            {item.countText ?? item.count}
                            <span class="visually-hidden"> {item.countLabel}</span>
                          </span>
                        ) : null}
                      </a>
                    </li>
                  ))}
                </ul>
              </>
            ))}
          </nav>
        </aside>
        <div class="main">
          <header class="topbar">
            {organization.others.length > 0 ? (
              <details class="dropdown">
                <summary>
                  <span class="visually-hidden">Organization: </span>
                  <span class="organization">{organization.name}</span>
                </summary>
                <ul>
                  {organization.others.map((o) => (
                    <li>
                      <a href={o.href}>{o.name}</a>
                    </li>
                  ))}
                </ul>
              </details>
            ) : (
              <span class="organization">{organization.name}</span>
            )}
            <details class="dropdown">
              <summary>
                <span class="visually-hidden">Signed in as </span>
                {person.email}
              </summary>
              <ul class="person-menu">
                <li>
                  <a href={person.accountHref}>Your account and sessions</a>
                </li>
                <li>
                  <form method="post" action={person.signOutAction}>
                    <Csrf token={csrf} />
                    <button type="submit" class="secondary outline small">
                      Sign out
                    </button>
                  </form>
                </li>
              </ul>
            </details>
          </header>
          <main id="main" tabindex={-1}>
            <Flash message={flash} />
            {children}
          </main>
        </div>
      </div>
    </>
  )
}

/** A page of its own, outside the frame: sign-in, setup, errors. */
export function Plain({ title, flash, children }: { title?: string; flash?: FlashMessage; children: ComponentChildren }) {
  return (
    <main class="auth-page" id="main">
      {title && <h1>{title}</h1>}
      <Flash message={flash} />
      {children}
    </main>
  )
}
