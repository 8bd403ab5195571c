/**
 * `/sdk.js`: the browser script for the company's own site. It keeps the visitor's click id through
 * Safari's cookie limits by taking it from the URL (`?cref=`, put there by the router), then from a
 * first-party cookie, then from localStorage, and sends it with the company's own customer id when
 * the site calls `partnerd.identify(userId)` after sign-up. It needs no configuration beyond the
 * tenant's slug in multi mode:
 *
 *   <script src="https://partners.example.com/sdk.js" data-tenant="acme" defer></script>
 *   <script>addEventListener('load', () => partnerd.identify('user-123'))</script>
 *
 * Written by hand in plain ES2017 (no build step, no dependency) and served as is; about 1 KB.
 */
import { Elysia } from 'elysia'

export const SDK_SOURCE = `(function () {
  'use strict';
  var KEY = '_cref';
  var DAYS = 90;
  var script = document.currentScript;
  var origin = new URL(script.src).origin;
  var tenant = script.getAttribute('data-tenant');
  var api = origin + (tenant ? '/api/t/' + encodeURIComponent(tenant) : '/api');
  var CREF = /^clk_[0-9A-Za-z]{1,40}$/;

  function fromCookie() {
    var m = document.cookie.match(/(?:^|; )_cref=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : null;
  }
  function fromStorage() {
    try { return localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function remember(cref) {
    var secure = location.protocol === 'https:' ? '; Secure' : '';
    document.cookie = KEY + '=' + encodeURIComponent(cref) + '; Max-Age=' + DAYS * 86400 + '; Path=/; SameSite=Lax' + secure;
    try { localStorage.setItem(KEY, cref); } catch (e) {}
  }
  function cref() {
    var candidates = [new URLSearchParams(location.search).get('cref'), fromCookie(), fromStorage()];
    for (var i = 0; i < candidates.length; i++) if (candidates[i] && CREF.test(candidates[i])) return candidates[i];
    return null;
  }
  var current = cref();
  if (current) remember(current);

  /** Ties the visit to your customer id. Resolves with the answer, or null when there is no click. */
  function identify(userId) {
    var id = cref();
    if (!id || !userId) return Promise.resolve(null);
    return fetch(api + '/attribution/identify', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cref: id, userId: String(userId) }),
      credentials: 'include',
      keepalive: true
    }).then(function (r) { return r.json(); });
  }
  window.partnerd = { identify: identify, cref: cref };
})();
`

export const sdkRoute = new Elysia({ name: 'sdk' }).get(
  '/sdk.js',
  ({ set }) => {
    set.headers['content-type'] = 'text/javascript; charset=utf-8'
    set.headers['cache-control'] = 'public, max-age=3600'
    set.headers['access-control-allow-origin'] = '*'
    return SDK_SOURCE
  },
  { detail: { tags: ['Tracking'], summary: 'The browser script: keeps cref (URL → cookie → localStorage) and calls identify' } },
)
