import {inputError} from '../errors.js'

export interface PemBlock {
  label: string
  der: Uint8Array<ArrayBuffer>
  /** The block as written, from the start of its BEGIN line to the end of its END line. */
  source: string
}

const BEGIN = /-----BEGIN ([A-Z0-9 ]+)-----/g

/**
 * The PEM blocks of `text`, found in one linear pass: each BEGIN is paired with the first END after it
 * (a lazy regex with a back-reference rescans the rest of the file for every unmatched BEGIN).
 */
function* blocksOf(text: string): Generator<{index: number; length: number; label: string; body: string}> {
  BEGIN.lastIndex = 0
  for (let begin = BEGIN.exec(text); begin; begin = BEGIN.exec(text)) {
    const label = begin[1]!
    const bodyStart = begin.index + begin[0].length
    const end = text.indexOf('-----END ', bodyStart)
    const footer = `-----END ${label}-----`
    if (end < 0 || !text.startsWith(footer, end)) return // left for checkGap to explain
    yield {index: begin.index, length: end + footer.length - begin.index, label, body: text.slice(bodyStart, end)}
    BEGIN.lastIndex = end + footer.length
  }
}

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
  for (const block of blocksOf(text)) {
    checkGap(text.slice(last, block.index), what)
    const body = block.body.replace(/\s+/g, '')
    if (body.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
      throw inputError(`${what}: the ${block.label} block is not valid base64`)
    }
    blocks.push({label: block.label, der: new Uint8Array(Buffer.from(body, 'base64')), source: text.slice(text.lastIndexOf('\n', block.index - 1) + 1, block.index + block.length)})
    last = block.index + block.length
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
