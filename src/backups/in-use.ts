/**
 * Which processes hold a file open: restore refuses to replace a database a server (or any other
 * process) has open, since that process would go on writing into the file it had, or into the new one
 * through a stale write-ahead log. Linux tells through /proc; elsewhere nothing can be seen and the
 * operator must stop the server first (README, Backups).
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

export interface Holder {
  pid: number
  command: string
}

/** Whether this system can tell (Linux with /proc). */
export function canSeeHolders(): boolean {
  try {
    return process.platform === 'linux' && readdirSync('/proc/self/fd').length > 0
  } catch {
    return false
  }
}

/** The processes other than this one with any of `paths` open (those of other users only when run as root). */
export function processesHolding(paths: string[]): Holder[] {
  if (!canSeeHolders()) return []
  const wanted = new Set(paths.map(canonical))
  const holders: Holder[] = []
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry)
    if (!Number.isInteger(pid) || pid === process.pid) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue // gone, or not ours to look at
    }
    const holds = fds.some((fd) => {
      try {
        return wanted.has(readlinkSync(`/proc/${pid}/fd/${fd}`))
      } catch {
        return false
      }
    })
    if (holds) holders.push({ pid, command: commandOf(pid) })
  }
  return holders
}

/** The path as /proc shows it: the folder's symbolic links resolved (the file itself may not exist). */
function canonical(path: string): string {
  try {
    return join(realpathSync(dirname(path)), basename(path))
  } catch {
    return path
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 200)
  } catch {
    return '?'
  }
}
