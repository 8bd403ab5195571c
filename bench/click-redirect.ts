/** The click router's answer as both baselines give it: the same 302 and cookie as partnerd's router. */
export function clickRedirect(cref: string): Response {
  return new Response(null, {
    status: 302,
    headers: {
      location: `https://shop.example.com/welcome?cref=${cref}`,
      'set-cookie': `_cref=${cref}; Path=/; Max-Age=7776000; HttpOnly; SameSite=Lax`,
      'cache-control': 'no-store',
    },
  })
}
