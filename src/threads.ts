/**
 * The URL of a worker thread's entry file, given relative to src/. From source that is beside this
 * file. In the compiled binary Bun stores every entry point under the common folder of all of them
 * (src/) and this module's import.meta.url is that folder's main entry, so the same relative path
 * holds there too. Each entry named here must be an entry point of package.json's build script.
 */
export function threadEntry(path: `./${string}.ts`): string {
  return new URL(path, import.meta.url).href
}
