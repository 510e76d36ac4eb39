/**
 * Health, reflection and ListFlows: what probes, grpcurl and clients see
 * before sending any work.
 */
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './helpers/harness.js';
import { reflect } from './helpers/reflection-client.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.stop();
});

function healthCheck(address: string, service: string): Promise<{ status: string }> {
  const Health = grpc.makeClientConstructor(healthService, 'Health');
  const client = new Health(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check(req: { service: string }, cb: (err: grpc.ServiceError | null, res: { status: string }) => void): void;
  };
  return new Promise((resolve, reject) => {
    client.check({ service }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res);
    });
  });
}

describe('health', () => {
  it('reports SERVING for the server and for penguiflow.v1.FlowService', async () => {
    expect((await healthCheck(h.address, '')).status).toBe('SERVING');
    expect((await healthCheck(h.address, 'penguiflow.v1.FlowService')).status).toBe('SERVING');
  });

  it('answers NOT_FOUND for an unknown service name', async () => {
    await expect(healthCheck(h.address, 'nope.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });
});

describe('reflection', () => {
  it('lists penguiflow.v1.FlowService (grpcurl list)', async () => {
    const answer = await reflect(h.address, 7, '');
    expect(answer.services).toContain('penguiflow.v1.FlowService');
  });

  it('describes the service with its file and dependencies (grpcurl describe)', async () => {
    const answer = await reflect(h.address, 4, 'penguiflow.v1.FlowService');
    expect(answer.errorCode).toBeUndefined();
    const names = answer.files.map((f) => f.name);
    expect(names).toContain('penguiflow/v1/flow_service.proto');
    const svc = answer.files.find((f) => f.name === 'penguiflow/v1/flow_service.proto')?.service[0];
    expect(svc?.method.map((m) => m.name)).toEqual([
      'Emit',
      'Fetch',
      'Call',
      'CallStream',
      'StreamTrace',
      'Cancel',
      'SubscribeEvents',
      'GetHistory',
      'ListFlows',
    ]);
  });
});

describe('ListFlows', () => {
  it('lists the demo flows sorted by name, with nodes, edges, ingress and egress', async () => {
    const res = await h.client.unary('ListFlows', {});
    expect(res.flows.map((f) => f.name)).toEqual(['chain5', 'echo', 'fanout', 'flaky', 'slow', 'stream']);
    const chain5 = res.flows.find((f) => f.name === 'chain5')!;
    expect(chain5.nodes.map((n) => n.name)).toEqual(['hop1', 'hop2', 'hop3', 'hop4', 'hop5']);
    expect(chain5.edges.map((e) => `${e.source}->${e.target}`)).toEqual(['hop1->hop2', 'hop2->hop3', 'hop3->hop4', 'hop4->hop5']);
    expect(chain5.ingress).toEqual(['hop1']);
    expect(chain5.egress).toEqual(['hop5']);
    const fanout = res.flows.find((f) => f.name === 'fanout')!;
    expect(fanout.edges).toHaveLength(4 + 4 + 1);
    expect(fanout.ingress).toEqual(['split']);
    expect(fanout.egress).toEqual(['final']);
    const flaky = res.flows.find((f) => f.name === 'flaky')!;
    expect(flaky.nodes[0]?.policy).toMatchObject({ maxRetries: 3, backoffBaseMs: 10, backoffMult: 2, validate: 'both' });
    expect(flaky.nodes[0]?.id).toMatch(/^[0-9a-f]{32}$/);
    expect(flaky.description).not.toBe('');
  });
});
