/**
 * Server configuration: environment, JSON file, defaults, and one-line
 * errors naming the variable.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig, resolveConfig } from '../../src/server/index.js';

const dir = mkdtempSync(join(tmpdir(), 'penguiflow-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({})).toEqual({
      host: '0.0.0.0',
      port: 50051,
      opsPort: 9464,
      queueMaxsize: 64,
      maxMessageBytes: 4 * 1024 * 1024,
      maxPayloadDepth: 32,
      maxMetaKeys: 64,
      auth: 'none',
      logLevel: 'info',
      flows: [],
      demoFlows: true,
      cancelOnDisconnect: true,
      traceRetentionMs: 300_000,
      maxRetainedTraces: 10_000,
      admissionWaitMs: 5_000,
      drainTimeoutMs: 10_000,
      store: 'sqlite:./data/penguiflow.db',
      historyRetentionMs: 7 * 24 * 3600 * 1000,
      logFormat: 'json',
      logRedact: [],
      logPayloads: false,
      accessLog: true,
      logSync: false,
      metricsTenantLabel: false,
      tenantMaxInflight: 1000,
      jwtSecret: '',
      jwksFile: '',
      jwtIssuer: '',
      jwtAudience: '',
      jwtClockSkewMs: 5_000,
      tenantClaim: 'tenant',
      tlsCert: '',
      tlsKey: '',
      tlsClientCa: '',
    });
  });

  it('parses environment variables (empty = unset)', () => {
    const config = loadConfig({
      PENGUIFLOW_PORT: '0',
      PENGUIFLOW_DEMO_FLOWS: 'FALSE',
      PENGUIFLOW_CANCEL_ON_DISCONNECT: '0',
      PENGUIFLOW_FLOWS: ' ./a.js, /b/c.js ,',
      PENGUIFLOW_LOG_LEVEL: 'Debug',
      PENGUIFLOW_HOST: '',
    });
    expect(config).toMatchObject({ port: 0, demoFlows: false, cancelOnDisconnect: false, flows: ['./a.js', '/b/c.js'], logLevel: 'debug', host: '0.0.0.0' });
  });

  it('reads boolean variables as true/1/yes/on or false/0/no/off, any case, and nothing else', () => {
    expect(loadConfig({ PENGUIFLOW_ACCESS_LOG: ' No ', PENGUIFLOW_LOG_SYNC: 'ON', PENGUIFLOW_LOG_PAYLOADS: 'yes', PENGUIFLOW_DEMO_FLOWS: 'off' })).toMatchObject({
      accessLog: false,
      logSync: true,
      logPayloads: true,
      demoFlows: false,
    });
    // zod's own defaults would also take y/n and enabled/disabled: the accepted words stay as documented.
    for (const bad of ['y', 'enabled', 'maybe']) {
      const err = configError(() => loadConfig({ PENGUIFLOW_LOG_SYNC: bad }));
      expect(err.message).toBe(`invalid configuration: PENGUIFLOW_LOG_SYNC=${JSON.stringify(bad)}: expected true or false`);
    }
  });

  it('reads a JSON file by key or variable name; the environment wins', () => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ port: 6000, PENGUIFLOW_QUEUE_MAXSIZE: 8, flows: ['/x.js'], demoFlows: false }));
    const config = loadConfig({ PENGUIFLOW_CONFIG_FILE: file, PENGUIFLOW_PORT: '7000' });
    expect(config).toMatchObject({ port: 7000, queueMaxsize: 8, flows: ['/x.js'], demoFlows: false });
  });

  it('fails with one line naming the variable', () => {
    const err = configError(() => loadConfig({ PENGUIFLOW_PORT: 'abc' }));
    expect(err.variable).toBe('PENGUIFLOW_PORT');
    expect(err.message).toBe('invalid configuration: PENGUIFLOW_PORT="abc": expected an integer from 0 to 65535');
    expect(configError(() => loadConfig({ PENGUIFLOW_PORT: '70000' })).variable).toBe('PENGUIFLOW_PORT');
    expect(configError(() => loadConfig({ PENGUIFLOW_MAX_MESSAGE_BYTES: '1.5' })).variable).toBe('PENGUIFLOW_MAX_MESSAGE_BYTES');
    expect(configError(() => loadConfig({ PENGUIFLOW_AUTH: 'oauth' })).message).toContain('one of none, jwt, mtls, header');
    for (const err2 of [
      configError(() => loadConfig({ PENGUIFLOW_LOG_LEVEL: 'loud' })),
      configError(() => loadConfig({ PENGUIFLOW_TRACE_RETENTION_MS: '-1' })),
    ]) {
      expect(err2.message).not.toContain('\n');
    }
  });

  it('names the file and the setting for bad file contents', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ port: 'x' }));
    const err = configError(() => loadConfig({ PENGUIFLOW_CONFIG_FILE: bad }));
    expect(err.variable).toBe('PENGUIFLOW_PORT');
    expect(err.message).toContain(bad);
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ prot: 1 }));
    expect(configError(() => loadConfig({ PENGUIFLOW_CONFIG_FILE: unknown })).message).toContain('unknown setting "prot"');
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{');
    expect(configError(() => loadConfig({ PENGUIFLOW_CONFIG_FILE: notJson })).variable).toBe('PENGUIFLOW_CONFIG_FILE');
  });
});

describe('resolveConfig and the variable table', () => {
  it('validates in-process overrides', () => {
    expect(resolveConfig({ port: 0 }).port).toBe(0);
    expect(configError(() => resolveConfig({ port: -1 })).variable).toBe('PENGUIFLOW_PORT');
  });

  it('documents every variable with a default and a meaning', () => {
    const names = CONFIG_VARIABLES.map((v) => v.variable);
    expect(names).toEqual(expect.arrayContaining(['PENGUIFLOW_PORT', 'PENGUIFLOW_OPS_PORT', 'PENGUIFLOW_AUTH', 'PENGUIFLOW_CONFIG_FILE', 'PENGUIFLOW_TRACE_RETENTION_MS']));
    expect(new Set(names).size).toBe(names.length);
    for (const v of CONFIG_VARIABLES) {
      expect(v.variable).toMatch(/^PENGUIFLOW_[A-Z_]+$/);
      expect(v.default).not.toBe('');
      expect(v.meaning.length).toBeGreaterThan(10);
    }
    expect(CONFIG_VARIABLES.find((v) => v.variable === 'PENGUIFLOW_MAX_MESSAGE_BYTES')?.default).toBe('4194304');
  });
});
