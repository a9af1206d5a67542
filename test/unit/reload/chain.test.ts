import type {X509Certificate} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {buildChain} from '../../../src/pki/verify.js'
import {certOf, issueCert, makeCa, makeIntermediate, makeLookalikeCa} from './certs.js'

/** root -> int1 -> int2 -> deep; root -> int1 -> leaf; and a CA with the root's very name but another key. */
let root: X509Certificate
let int1: X509Certificate
let int2: X509Certificate
let leaf: X509Certificate
let deep: X509Certificate
let impostor: X509Certificate
let stranger: X509Certificate
let lookalike: X509Certificate

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vtls-chain-'))
  const rootCa = await makeCa(dir, {name: 'root', cn: 'reload chain test root'})
  const [i1, impostorCa] = await Promise.all([makeIntermediate(rootCa, dir, 'int1'), makeCa(dir, {name: 'impostor', cn: 'reload chain test root'})])
  const i2 = await makeIntermediate(i1, dir, 'int2')
  const [leafKp, deepKp, strangerKp] = await Promise.all([
    issueCert(i1, dir, 'leaf', {cn: 'localhost'}), issueCert(i2, dir, 'deep', {cn: 'localhost'}), issueCert(impostorCa, dir, 'stranger', {cn: 'localhost'}),
  ])
  const lookalikeCa = await makeLookalikeCa(rootCa, dir, 'lookalike')
  ;[root, int1, int2, leaf, deep, impostor, stranger, lookalike] = [rootCa.cert, i1.cert, i2.cert, leafKp.cert, deepKp.cert, impostorCa.cert, strangerKp.cert, lookalikeCa.cert].map(certOf)
  return () => rmSync(dir, {recursive: true, force: true})
})

const names = (chain: X509Certificate[] | undefined) => chain?.map((c) => c.fingerprint256)

describe('buildChain', () => {
  it('the test PKI is what it claims (intermediates are CAs)', () => {
    expect(int1.ca).toBe(true)
    expect(int2.ca).toBe(true)
    expect(leaf.ca).toBe(false)
    expect(impostor.subject).toBe(root.subject)
  })

  it('goes from the leaf through the intermediate to the root', () => {
    expect(names(buildChain(leaf, [int1], [root]))).toEqual(names([leaf, int1, root]))
  })

  it('finds no path when the intermediate is missing', () => {
    expect(buildChain(leaf, [], [root])).toBeUndefined()
    expect(buildChain(deep, [int2], [root])).toBeUndefined() // int1 missing
  })

  it('finds the path through intermediates given in the wrong order, among unrelated certificates', () => {
    expect(names(buildChain(deep, [stranger, int1, int2], [root]))).toEqual(names([deep, int2, int1, root]))
  })

  it('ends at the first trusted certificate: an intermediate among the CAs is an anchor', () => {
    expect(names(buildChain(deep, [int2, int1], [int1]))).toEqual(names([deep, int2, int1]))
    expect(names(buildChain(leaf, [], [int1]))).toEqual(names([leaf, int1]))
  })

  it('accepts a leaf that is itself among the CAs, as a chain of one', () => {
    expect(names(buildChain(leaf, [], [root, leaf]))).toEqual(names([leaf]))
    expect(names(buildChain(root, [], [root]))).toEqual(names([root]))
  })

  it('checks signatures, not just names: a CA with the root\'s name but another key is no anchor', () => {
    expect(buildChain(leaf, [int1], [impostor])).toBeUndefined()
    expect(buildChain(stranger, [], [root])).toBeUndefined()
    expect(names(buildChain(stranger, [], [root, impostor]))).toEqual(names([stranger, impostor]))
  })

  it('checks signatures even when name and key identifier match', () => {
    // The lookalike passes checkIssued (name and authority key identifier), so only the signature rejects it.
    expect(int1.checkIssued(lookalike)).toBe(true)
    expect(buildChain(int1, [], [lookalike])).toBeUndefined()
    expect(buildChain(leaf, [int1], [lookalike])).toBeUndefined()
    expect(names(buildChain(leaf, [int1], [lookalike, root]))).toEqual(names([leaf, int1, root]))
  })
})
