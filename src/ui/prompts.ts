import {confirm, input, password, select} from '@inquirer/prompts'

import {DEFAULT_KEY_TYPE, KEY_TYPES, type KeyType} from '../pki/key-types.js'
import {checkClientName, parseSan} from '../pki/names.js'

export interface GenAnswers {
  out: string
  keyType: KeyType
  days: number
  sans: string[]
  clients: string[]
  proceed: boolean
  overwrite: boolean
}

const list = (value: string) => value.split(/[\s,]+/).filter(Boolean)

function validator(check: (item: string) => unknown) {
  return (value: string) => {
    try {
      for (const item of list(value)) check(item)
      return true
    } catch (error) {
      return (error as Error).message
    }
  }
}

/** Questions for `certs gen` when it is run on a terminal with no flags. */
export async function askGenOptions(
  defaults: {out: string; days: number},
  existing: (out: string, clients: string[]) => Promise<string[]>,
): Promise<GenAnswers> {
  const out = await input({message: 'Output folder', default: defaults.out})
  const keyType = await select<KeyType>({
    message: 'Key type',
    default: DEFAULT_KEY_TYPE,
    choices: KEY_TYPES.map((value) => ({value, name: value})),
  })
  const days = Number(await input({
    message: 'Certificate validity (days)',
    default: String(defaults.days),
    validate: (v) => (/^\d+$/.test(v.trim()) && Number(v) > 0 ? true : 'a whole number of days greater than 0'),
  }))
  const sans = list(await input({
    message: 'Extra server names or IPs (besides localhost, 127.0.0.1, ::1), comma-separated',
    default: '',
    validate: validator(parseSan),
  }))
  const clients = list(await input({
    message: 'Client certificates to make, one per ACL user name, comma-separated',
    default: '',
    validate: validator(checkClientName),
  }))
  const clash = await existing(out, clients)
  if (clash.length > 0) {
    const overwrite = await confirm({message: `${clash.join(', ')} already exist in ${out}. Replace them?`, default: false})
    return {out, keyType, days, sans, clients, proceed: overwrite, overwrite}
  }
  const proceed = await confirm({message: `Write the files to ${out}?`, default: true})
  return {out, keyType, days, sans, clients, proceed, overwrite: false}
}

/** Asks for a server password without echoing it. */
export async function askPassword(address: string): Promise<string> {
  return password({message: `Password for ${address}`, mask: false})
}

/** Asks twice for a new password (a PKCS#12 file's), without echoing it; empty is refused. */
export async function askNewPassword(what: string): Promise<string> {
  const first = await password({message: `Password for ${what}`, mask: false, validate: (v) => (v === '' ? 'the password must not be empty' : true)})
  await password({message: 'The same password again', mask: false, validate: (v) => (v === first ? true : 'not the same password; type it again')})
  return first
}
