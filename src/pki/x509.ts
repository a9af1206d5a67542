// @peculiar/x509 2.x needs the Reflect metadata polyfill loaded before it.
import 'reflect-metadata'
import {webcrypto} from 'node:crypto'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

export {x509}
export const subtle = webcrypto.subtle
