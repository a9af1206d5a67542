import {describe, expect, it} from 'vitest'

import {checkCaName, checkClientName, checkOrganization, checkUri, mergeSans, parseClientUri, parseSan, parseServer} from '../../../src/pki/names.js'

describe('parseSan', () => {
  it.each([
    ['valkey.internal', {type: 'dns', value: 'valkey.internal'}],
    ['DNS:Cache-1.Example.COM', {type: 'dns', value: 'cache-1.example.com'}],
    ['*.cache.example.com', {type: 'dns', value: '*.cache.example.com'}],
    ['10.0.0.5', {type: 'ip', value: '10.0.0.5'}],
    ['IP:fd00::5', {type: 'ip', value: 'fd00::5'}],
    ['[::1]', {type: 'ip', value: '::1'}],
    ['node1', {type: 'dns', value: 'node1'}],
  ])('accepts %s', (raw, expected) => {
    expect(parseSan(raw)).toEqual(expected)
  })

  it.each(['fe80::1%eth0', 'IP:fe80::1%eth0', '[fe80::1%25eth0]', 'IP:[fe80::1%1]', '::ffff:1.2.3.4%x', 'fe80::1%'])('rejects %j (an IPv6 zone, or a stray %) with a usage error naming --san', (raw) => {
    expect(() => parseSan(raw)).toThrow(expect.objectContaining({kind: 'usage', message: expect.stringContaining(`invalid --san "${raw}"`)}))
  })

  it.each(['', 'bad name', 'a..b', '-lead.example', 'IP:300.1.1.1', 'IP:host', '*.com', 'x'.repeat(64) + '.com', 'under_score.com'])('rejects %j with a usage error', (raw) => {
    expect(() => parseSan(raw)).toThrow(expect.objectContaining({kind: 'usage'}))
  })
})

describe('mergeSans', () => {
  it('always has the loopback names first and drops duplicates, including other spellings of ::1', () => {
    const merged = mergeSans([parseSan('localhost'), parseSan('0:0:0:0:0:0:0:1'), parseSan('db.example')])
    expect(merged).toEqual([
      {type: 'dns', value: 'localhost'},
      {type: 'ip', value: '127.0.0.1'},
      {type: 'ip', value: '::1'},
      {type: 'dns', value: 'db.example'},
    ])
  })
})

describe('client names and URIs', () => {
  it('accepts names that are safe as file names and ACL users', () => {
    for (const name of ['alice', 'svc-app_1', 'bob@example.com', 'A.B']) expect(checkClientName(name)).toBe(name)
  })

  it.each(['', '../x', 'a b', 'a/b', '.hidden', 'ca', 'Server', 'x'.repeat(65)])('rejects %j', (name) => {
    expect(() => checkClientName(name)).toThrow(expect.objectContaining({kind: 'usage'}))
  })

  it('splits NAME=URI and gives a bare URI to the default client', () => {
    expect(parseClientUri('alice=spiffe://example.org/ns/alice', 'client')).toEqual({client: 'alice', uri: 'spiffe://example.org/ns/alice'})
    expect(parseClientUri('urn:valkey:user=bob', 'client')).toEqual({client: 'client', uri: 'urn:valkey:user=bob'})
    expect(parseClientUri('spiffe://example.org/a?x=1', 'client')).toEqual({client: 'client', uri: 'spiffe://example.org/a?x=1'})
  })

  it.each(['not a uri', 'alice=no-scheme', 'alice=spiffe://x/ a'])('rejects the URI in %j', (raw) => {
    expect(() => parseClientUri(raw, 'client')).toThrow(expect.objectContaining({kind: 'usage'}))
  })

  it('rejects URIs without a scheme', () => {
    expect(() => checkUri('/just/a/path')).toThrow(/not a URI/)
  })

  it.each(['urn:café', 'urn:a\u0001b', 'urn:a\u007Fb', 'spiffe://x/a\tb'])('rejects %j: a URI SAN is an IA5String, printable ASCII only', (raw) => {
    expect(() => checkUri(raw)).toThrow(expect.objectContaining({kind: 'usage', message: expect.stringMatching(/printable ASCII/)}))
  })
})

describe('checkOrganization', () => {
  it('accepts up to 64 characters of any script', () => {
    for (const org of ['Acme, Inc.', 'Société Générale', 'x'.repeat(64), '株式会社'.repeat(16)]) expect(checkOrganization(org)).toBe(org)
  })

  it.each(['a\nb', 'Acme\u001B[31m', 'a\u0085b', 'x'.repeat(65)])('rejects %j', (org) => {
    expect(() => checkOrganization(org)).toThrow(expect.objectContaining({kind: 'usage', message: expect.stringContaining('--org')}))
  })
})

describe('parseServer', () => {
  it('NAME alone: NAME is its own DNS SAN when it is a DNS name', () => {
    expect(parseServer('node1')).toEqual({name: 'node1', sans: [{type: 'dns', value: 'node1'}]})
    expect(parseServer('Node-1.example')).toEqual({name: 'Node-1.example', sans: [{type: 'dns', value: 'node-1.example'}]})
    expect(parseServer('node_1')).toEqual({name: 'node_1', sans: []})
  })

  it('NAME=SAN,SAN: DNS names and IPs (v4, v6, prefixed), in order', () => {
    expect(parseServer('node1=node1.internal, 10.0.0.1,IP:fd00::1,DNS:n1')).toEqual({name: 'node1', sans: [
      {type: 'dns', value: 'node1'}, {type: 'dns', value: 'node1.internal'}, {type: 'ip', value: '10.0.0.1'}, {type: 'ip', value: 'fd00::1'}, {type: 'dns', value: 'n1'}]})
  })

  it.each(['', '=a', '-x', 'a/b', 'ca', 'CA=x', 'node1=', 'node1=,', 'node1=bad_name', 'node1=fe80::1%eth0'])('refuses %j', (raw) => {
    expect(() => parseServer(raw)).toThrow(expect.objectContaining({kind: 'usage', message: expect.stringMatching(/--server|--san/)}))
  })
})

describe('checkCaName', () => {
  it('takes one line of 1-64 characters, UTF-8 included', () => {
    expect(checkCaName('Staging Valkey CA')).toBe('Staging Valkey CA')
    expect(checkCaName('Prüf-CA ✓')).toBe('Prüf-CA ✓')
    expect(checkCaName('x'.repeat(64))).toHaveLength(64)
  })
  it.each(['', '  ', 'a\nb', 'x'.repeat(65)])('refuses %j', (name) => {
    expect(() => checkCaName(name)).toThrow(expect.objectContaining({kind: 'usage', message: expect.stringContaining('--ca-name')}))
  })
})
