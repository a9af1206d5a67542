import * as Flags from '@oclif/core/flags'

import {type AllowFilter, filterOf, parseTargetRule, type TargetRule} from '../cluster/allow.js'
import {usageError} from '../errors.js'
import {type Endpoint, formatAddress} from '../transport/options.js'

/**
 * `--allow-target` of check and reload: a seed's answer decides which servers the run connects to, and every
 * connection presents the client certificate and sends the password. With the flag, a node outside the rules
 * is reported and never connected to. (The exporter's flag is its own: there it also answers 403.)
 */
export const allowTargetFlag = Flags.string({
  summary: 'Connect only to these servers, HOST[:PORT] (a name, *.domain, an IP or a network such as 10.0.0.0/8; repeatable): a discovered node outside them is reported as failed and never sent the password or the certificate.',
  multiple: true,
})

/** The rules of --allow-target, or undefined without it; a rule that is not one is a usage error. */
export function parseAllowTargets(values: string[] | undefined): TargetRule[] | undefined {
  return values?.map((raw) => {
    try {
      return parseTargetRule(raw)
    } catch (error) {
      throw usageError(`--allow-target: ${(error as Error).message}`)
    }
  })
}

/**
 * The node filter for a run, checking first that the servers named on the command line (the seed, --nodes)
 * are within the rules: those the operator typed are a usage error, not a failure found later.
 */
export function allowFilter(rules: TargetRule[] | undefined, given: Endpoint[]): AllowFilter | undefined {
  if (rules === undefined) return undefined
  const allow = filterOf(rules)!
  const outside = given.find((endpoint) => !allow(endpoint))
  if (outside) throw usageError(`${formatAddress(outside)} is not within --allow-target (${rules.map((r) => r.text).join(', ')})`)
  return allow
}
