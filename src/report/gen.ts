import {basename} from 'node:path'

import chalk from 'chalk'

import type {GeneratedFile, GenerateResult} from '../pki/generate-set.js'

const KIND_LABEL: Record<GeneratedFile['kind'], string> = {
  'ca-cert': 'CA certificate',
  'ca-key': 'CA private key',
  cert: 'certificate',
  key: 'private key',
  p12: 'PKCS#12 (key and certificates, password-protected)',
}

/** Human summary of `certs gen`: what was written, then the server and ACL lines to use it. */
export function renderGenResult(result: GenerateResult): string {
  const caNote = result.ca.generated ? 'new CA' : `signed by ${result.ca.subject}`
  const lines = [chalk.bold(`Wrote ${result.files.length} files to ${result.out}`) + ` (${result.keyType}, ${caNote})`]
  const width = Math.max(...result.files.map((f) => basename(f.path).length))
  for (const file of result.files) {
    const name = basename(file.path).padEnd(width)
    if (file.kind === 'key' || file.kind === 'ca-key' || file.kind === 'p12') {
      lines.push(`  ${name}  ${KIND_LABEL[file.kind]}, mode ${file.mode}`)
    } else {
      const names = [...(file.dnsNames ?? []), ...(file.ipAddresses ?? []), ...(file.uris ?? [])]
      const sans = names.length > 0 ? `, SAN ${names.join(' ')}` : ''
      lines.push(`  ${name}  ${file.subject}${sans}, until ${file.notAfter?.slice(0, 10)}`)
      lines.push(`  ${' '.repeat(width)}  ${chalk.dim(`SHA256 ${file.fingerprint256}`)}`)
    }
  }
  if (result.servers.length === 1 && result.servers[0]!.name === 'server') {
    lines.push('', chalk.bold('valkey.conf:'), ...result.config.map((l) => `  ${l}`))
  } else {
    for (const node of result.servers) {
      lines.push('', chalk.bold(`valkey.conf on ${node.name} (give it ${basename(node.cert)}, ${basename(node.key)} and ca.crt):`), ...node.config.map((l) => `  ${l}`))
    }
  }
  if (result.acl.length > 0) {
    lines.push('', chalk.bold('ACL users the client certificates log in as (narrow the permissions as needed):'), ...result.acl.map((l) => `  ${l}`))
  }
  const client = result.files.find((f) => f.owner === 'client' && f.kind === 'cert')
  if (client) {
    const dir = result.out
    lines.push('', chalk.bold('Try it:'), `  valkey-cli --tls --cacert ${dir}/ca.crt --cert ${dir}/client.crt --key ${dir}/client.key -p 6379 ACL WHOAMI`)
  }
  return lines.join('\n')
}
