/**
 * Transport credentials of the gRPC port: plaintext, TLS, or TLS with
 * required client certificates (`mtls` auth).
 */
import { readFileSync } from 'node:fs';
import { ServerCredentials } from '@grpc/grpc-js';
import { ConfigError, type ServerConfig } from '../config.js';

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(variable, `invalid configuration: ${variable}=${JSON.stringify(path)}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'read error'})`);
  }
}

/**
 * The server credentials for `config`: TLS when `tlsCert` and `tlsKey` are
 * set (both or neither), with client certificates required and checked
 * against `tlsClientCa` in `mtls` mode; plaintext otherwise.
 *
 * @throws ConfigError naming the variable when a file is missing or unreadable.
 */
export function serverCredentials(config: Pick<ServerConfig, 'auth' | 'tlsCert' | 'tlsKey' | 'tlsClientCa'>): ServerCredentials {
  if ((config.tlsCert === '') !== (config.tlsKey === '')) {
    throw new ConfigError(config.tlsCert === '' ? 'PENGUIFLOW_TLS_CERT' : 'PENGUIFLOW_TLS_KEY', 'invalid configuration: set both PENGUIFLOW_TLS_CERT and PENGUIFLOW_TLS_KEY, or neither');
  }
  if (config.tlsCert === '') {
    if (config.auth === 'mtls') throw new ConfigError('PENGUIFLOW_TLS_CERT', 'invalid configuration: PENGUIFLOW_AUTH=mtls needs PENGUIFLOW_TLS_CERT');
    return ServerCredentials.createInsecure();
  }
  const keyPair = { cert_chain: readPem('PENGUIFLOW_TLS_CERT', config.tlsCert), private_key: readPem('PENGUIFLOW_TLS_KEY', config.tlsKey) };
  if (config.auth !== 'mtls') return ServerCredentials.createSsl(null, [keyPair], false);
  if (config.tlsClientCa === '') throw new ConfigError('PENGUIFLOW_TLS_CLIENT_CA', 'invalid configuration: PENGUIFLOW_AUTH=mtls needs PENGUIFLOW_TLS_CLIENT_CA');
  return ServerCredentials.createSsl(readPem('PENGUIFLOW_TLS_CLIENT_CA', config.tlsClientCa), [keyPair], true);
}
