/**
 * A secret shown once (an API key, a webhook secret, a setup link): in a read-only field with a copy
 * button, a warning that it will not be shown again, and no way back to it.
 */
import { fieldId } from './field.tsx'

export function ShownOnce({ name, label, value, what }: { name: string; label: string; value: string; what: string }) {
  const id = fieldId(name)
  return (
    <article>
      <h2>{label}</h2>
      <p>
        <strong>Copy it now: this {what} will not be shown again.</strong> Only a digest is kept, so nobody can look it up later.
      </p>
      <div class="secret">
        <label for={id} class="visually-hidden">
          {label}
        </label>
        <input id={id} type="text" readonly value={value} spellcheck={false} autocomplete="off" />
        <button type="button" class="secondary" data-copy={id} data-label="Copy" hidden>
          Copy
        </button>
      </div>
    </article>
  )
}

/** Text to copy: a snippet or a URL, in a code block with a copy button. */
export function CopyBlock({ id, text, label }: { id: string; text: string; label: string }) {
  return (
    <div>
      <pre class="snippet">
        <code id={id}>{text}</code>
      </pre>
      <button type="button" class="secondary outline small" data-copy={id} data-label={`Copy ${label}`} hidden>
        Copy {label}
      </button>
    </div>
  )
}
