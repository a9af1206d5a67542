import {describe, expect, it} from 'vitest'

import {parseInfo} from '../../../src/server/facts.js'

describe('parseInfo', () => {
  it('reads INFO as the server writes it: CRLF lines, # section headers, values with colons', () => {
    const text = '# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nexecutable:/usr/bin/valkey-server\r\n\r\n# TLS\r\ntls_server_cert_expire_time:1796000000\r\nslave0:ip=127.0.0.1,port=6380,state=online\r\n# Odd:header\r\n'
    expect(parseInfo(text)).toEqual({
      redis_version: '7.2.4', server_name: 'valkey', executable: '/usr/bin/valkey-server',
      tls_server_cert_expire_time: '1796000000', slave0: 'ip=127.0.0.1,port=6380,state=online',
    })
    expect(parseInfo('a:1\nb: 2 \n:no key\nno colon\n')).toEqual({a: '1', b: '2'})
    expect(parseInfo('')).toEqual({})
  })
})
