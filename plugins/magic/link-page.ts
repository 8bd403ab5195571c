/**
 * The page a mailed sign-in link opens. The token travels in the URL's fragment, which browsers never
 * send to a server (so it stays out of access logs and Referer headers); the page posts it when the
 * person confirms, so a mail scanner that fetches the link signs nobody in.
 */
export function linkPage(verifyPath: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title><link rel="icon" href="data:,">
<style>body{font:16px/1.5 system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0;color:#1d2330}
main{text-align:center;max-width:24rem}button{font:inherit;padding:.6rem 1.6rem;border:0;border-radius:6px;background:#2f855a;color:#fff;cursor:pointer}
#status{min-height:1.5em}</style></head>
<body><main><h1>Sign in</h1><p>Confirm to sign in on this device.</p>
<button id="confirm" type="button">Sign in</button><p id="status" role="status"></p></main>
<script>
const token = location.hash.slice(1)
const status = document.getElementById('status')
const button = document.getElementById('confirm')
if (!token) { status.textContent = 'This link is incomplete.'; button.disabled = true }
button.addEventListener('click', async () => {
  button.disabled = true
  const res = await fetch(${JSON.stringify(verifyPath)}, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }), credentials: 'same-origin' })
  status.textContent = res.ok ? 'You are signed in. You can close this page.' : 'This link is wrong, used or expired. Ask for a new one.'
  if (res.ok) history.replaceState(null, '', location.pathname)
})
</script></body></html>`
}
