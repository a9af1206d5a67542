import {X509Certificate} from 'node:crypto'
import {copyFile, readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {connect as tlsConnect} from 'node:tls'
import {beforeAll, describe, expect, it} from 'vitest'
import {DEFAULT_SERVER_SANS, makeExpiredCert, makePki, type Pki} from '../helpers/pki/openssl.js'
import {portIsClosed} from '../helpers/ports.js'
import {ensureRedis7, startRedis7, type Redis7Handle} from '../helpers/redis7.js'
import {parseInfo, TlsRespClient} from '../helpers/resp.js'
import {makeTempDir} from '../helpers/temp.js'

/** Fingerprint of the certificate the server presents on a new handshake (not verified). */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((res, rej) => {
    const s = tlsConnect({host: '127.0.0.1', port, rejectUnauthorized: false})
    s.once('secureConnect', () => {
      const fp = s.getPeerCertificate().fingerprint256
      s.destroy()
      res(fp)
    })
    s.once('error', rej)
  })
}

async function fingerprint(file: string): Promise<string> {
  return new X509Certificate(await readFile(file)).fingerprint256
}

describe('Redis 7 harness (Debian bookworm redis-server)', () => {
  let dir: string
  let pki: Pki
  let live: {cert: string; key: string}
  let redis: Redis7Handle

  beforeAll(async () => {
    await ensureRedis7()
    dir = makeTempDir('redis7-pki')
    pki = await makePki(dir)
    live = {cert: join(dir, 'live.crt'), key: join(dir, 'live.key')}
    await copyFile(pki.serverCert, live.cert)
    await copyFile(pki.serverKey, live.key)
    redis = await startRedis7({caCert: pki.caCert, cert: live.cert, key: live.key})
  })

  it('runs Redis 7.x, TLS only, on 127.0.0.1', async () => {
    const info = parseInfo(String(await redis.command('INFO', 'server')))
    expect(info.redis_version).toMatch(/^7\./)
    expect(Number(info.process_id)).toBe(redis.pid)
    expect(await redis.command('CONFIG', 'GET', 'port')).toEqual(['port', '0'])
    expect(await redis.command('CONFIG', 'GET', 'bind')).toEqual(['bind', '127.0.0.1'])
    expect(await servedFingerprint(redis.port)).toBe(await fingerprint(pki.serverCert))
  })

  it('has no tls-auto-reload-interval and no INFO tls section', async () => {
    expect(await redis.command('CONFIG', 'GET', 'tls-auto-reload-interval')).toEqual([])
    expect(await redis.command('INFO', 'tls')).toBe('')
  })

  it('accepts an expired certificate via CONFIG SET and then serves it', async () => {
    const expired = await makeExpiredCert(pki.ca, dir, 'expired', {cn: 'localhost', sans: DEFAULT_SERVER_SANS})
    await copyFile(expired.cert, live.cert)
    await copyFile(expired.key, live.key)

    expect(await redis.configSetRaw('tls-cert-file', live.cert, 'tls-key-file', live.key)).toBe('OK')

    expect(await servedFingerprint(redis.port)).toBe(await fingerprint(expired.cert))
    await expect(TlsRespClient.connect(redis.clientOptions())).rejects.toMatchObject({code: 'CERT_HAS_EXPIRED'})
  })

  it('stop() ends the process and frees the port', async () => {
    await redis.stop()
    expect(() => process.kill(redis.pid, 0)).toThrow()
    expect(await portIsClosed(redis.port)).toBe(true)
  })
})
