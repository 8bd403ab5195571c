/** What the last action did, said once in a live region (announced by screen readers). */
export interface FlashMessage {
  kind: 'ok' | 'error'
  text: string
}

export function Flash({ message }: { message?: FlashMessage }) {
  return (
    <div id="flash" class={`flash${message?.kind === 'error' ? ' error' : ''}`} role="status" aria-live="polite">
      {message?.text}
    </div>
  )
}
