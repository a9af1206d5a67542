import chalk from 'chalk'

import type {InspectResult} from '../pki/inspect.js'
import {certificateRows, mappingLines, problemLines} from './whoami.js'

/** Human output of `certs inspect`: whoami's certificate rows, with CN, key usage and basic constraints. */
export function renderInspect(result: InspectResult): string {
  const rows = certificateRows(result)
  const at = (label: string) => rows.findIndex(([l]) => l === label)
  rows.splice(at('subject') + 1, 0, ['CN', result.commonName === null ? '(none)' : result.commonNames.map((cn) => JSON.stringify(cn)).join(', ')])
  rows.splice(at('usage'), 1, ['EKU', result.extendedKeyUsages === null ? '(no extended key usage)' : result.extendedKeyUsages.join(', ')])
  rows.splice(at('EKU'), 0, ['KU', result.keyUsages === null ? '(no key usage)' : result.keyUsages.join(', ')])
  const bc = result.basicConstraints
  rows.splice(at('SHA-256'), 0, ['basic', bc === null ? '(no basic constraints)' : `CA:${bc.ca ? 'TRUE' : 'FALSE'}${bc.pathLength === null ? '' : `, pathlen:${bc.pathLength}`}${bc.critical ? ' (critical)' : ''}`])
  if (result.selfIssued) rows[at('issuer')]![1] += chalk.dim(' (self-issued)')

  const more = result.certificates > 1 ? chalk.dim(` (the first of ${result.certificates} certificates in the file)`) : ''
  const lines = [chalk.bold(result.file) + more]
  for (const [label, value] of rows) lines.push(`  ${label.padEnd(8)} ${value}`)
  lines.push(...mappingLines(result.candidates), ...problemLines(result.problems, null, 'As a client certificate'))
  return lines.join('\n')
}
