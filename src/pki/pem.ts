import {inputError} from '../errors.js'

export interface PemBlock {
  label: string
  der: Uint8Array<ArrayBuffer>
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g

export function toPem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64')
  const lines = base64.match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/**
 * Splits a PEM file into blocks, strictly: @peculiar/x509 silently keeps the first certificate of a
 * bundle and skips junk, so anything but whitespace (or OpenSSL's "Bag Attributes"-style text lines
 * before a block) between blocks is an error here. `what` names the file in messages.
 */
export function splitPem(text: string, what: string): PemBlock[] {
  const blocks: PemBlock[] = []
  let last = 0
  for (const match of text.matchAll(BLOCK)) {
    checkGap(text.slice(last, match.index), what)
    const body = match[2].replace(/\s+/g, '')
    if (body.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
      throw inputError(`${what}: the ${match[1]} block is not valid base64`)
    }
    blocks.push({label: match[1], der: new Uint8Array(Buffer.from(body, 'base64'))})
    last = match.index + match[0].length
  }
  checkGap(text.slice(last), what)
  if (blocks.length === 0) throw inputError(`${what}: no PEM data found`)
  return blocks
}

function checkGap(gap: string, what: string): void {
  if (/-----BEGIN /.test(gap) && !/-----END /.test(gap)) throw inputError(`${what}: truncated PEM (a BEGIN line has no matching END line)`)
  if (/-----BEGIN |-----END /.test(gap)) throw inputError(`${what}: malformed PEM (unmatched BEGIN/END lines)`)
  // OpenSSL writes human-readable text before blocks (`openssl x509 -text`, "Bag Attributes", "subject=");
  // that is fine. Binary junk is not.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000E-\u001F\uFFFD]/.test(gap)) throw inputError(`${what}: contains binary data outside the PEM blocks`)
}
