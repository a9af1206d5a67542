import {createHash} from 'node:crypto'

/**
 * Results of a pure parse, kept by the bytes parsed: a run over many nodes reads the same CA bundle (and
 * often the same certificate and key) once per node, and OpenSSL's decoders cost about a millisecond a
 * file. Only what parsed is kept (a failure is thrown again, with the caller's words, every time); the
 * values are immutable (X509Certificate, KeyObject). At most `limit` entries; the oldest go first.
 */
export function memoByContent<T>(limit = 1024): (parts: ReadonlyArray<Buffer | string | undefined>, parse: () => T) => T {
  const kept = new Map<string, T>()
  return (parts, parse) => {
    const hash = createHash('sha256')
    for (const part of parts) hash.update(part === undefined ? '\u0000-' : `\u0000${Buffer.byteLength(part)}:`).update(part ?? '')
    const id = hash.digest('base64')
    const hit = kept.get(id)
    if (hit !== undefined) return hit
    const value = parse()
    if (kept.size >= limit) kept.delete(kept.keys().next().value!)
    kept.set(id, value)
    return value
  }
}
