/** "Did you mean": the known name closest to a mistyped one, by edit distance (as @oclif/plugin-not-found). */

/** Levenshtein distance: insertions, deletions and substitutions, each 1. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

interface Match {
  name: string
  distance: number
}

function closest(typed: string, names: readonly string[]): Match | undefined {
  let best: Match | undefined
  for (const name of names) {
    const distance = editDistance(typed, name)
    if (!best || distance < best.distance) best = {name, distance}
  }
  // Differing in more than half its letters is no suggestion (`valkey-tls xyzzy` gets none, not something unrelated).
  return best && best.distance <= Math.max(1, Math.floor(typed.length / 2)) ? best : undefined
}

/** The closest of `names` to `typed`, or undefined when none is close. */
export const closestName = (typed: string, names: readonly string[]): string | undefined => closest(typed, names)?.name

/**
 * The command meant by a mistyped id. oclif joins the words before the first flag into the id (`whoamii a.crt` is
 * `whoamii:a.crt`), so each leading part is tried, and the closest match wins (the longer part on a tie); `typed` is
 * that part, the rest being arguments.
 */
export function suggestCommand(id: string, commandIds: readonly string[]): {typed: string; suggestion: string} | undefined {
  const parts = id.split(':')
  let best: (Match & {typed: string}) | undefined
  for (let k = 1; k <= parts.length; k++) {
    const typed = parts.slice(0, k).join(':')
    const match = closest(typed, commandIds)
    if (match && (!best || match.distance <= best.distance)) best = {...match, typed}
  }
  return best && {typed: best.typed, suggestion: best.name}
}
