/**
 * Readiness: one source of truth for `/readyz` and the gRPC health
 * service, so a probe of either always gives the same answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthImplementation } from 'grpc-health-check';
import type { ReadinessReport } from '../observability/ops-server.js';
import type { FlowCatalog } from '../host/flow-catalog.js';

/**
 * A dependency readiness waits for (e.g. the state store). `check`
 * resolves true when the dependency is usable; false, a rejection or no
 * answer within {@link READINESS_CHECK_TIMEOUT_MS} makes the server not
 * ready (gRPC health NOT_SERVING, `/readyz` 503) until it passes again.
 */
export interface ReadinessCheck {
  /** Short name, shown in `/readyz`'s `checks`. */
  readonly name: string;
  check(): boolean | Promise<boolean>;
}

/** How long one readiness check may take. */
export const READINESS_CHECK_TIMEOUT_MS = 2_000;
/** How often checks are re-run in the background (so gRPC health follows them without a probe). */
export const READINESS_POLL_MS = 2_000;

function withTimeout(check: ReadinessCheck): Promise<string> {
  return new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve(`no answer within ${READINESS_CHECK_TIMEOUT_MS} ms`), READINESS_CHECK_TIMEOUT_MS);
    timer.unref();
    let answer: boolean | Promise<boolean>;
    try {
      answer = check.check();
    } catch (err) {
      answer = Promise.reject(err);
    }
    Promise.resolve(answer).then(
      (ok) => {
        clearTimeout(timer);
        resolve(ok ? 'ok' : 'not ready');
      },
      (err: unknown) => {
        clearTimeout(timer);
        resolve(`failed: ${err instanceof Error ? err.name : typeof err}`);
      },
    );
  });
}

/** Options of {@link Readiness}. */
export interface ReadinessOptions {
  /** True while every hosted flow runs. */
  flowsRunning: () => boolean;
  checks?: readonly ReadinessCheck[];
  /** The gRPC health service to keep in step, and the service names it reports. */
  health: HealthImplementation;
  services: readonly string[];
}

/**
 * The server's readiness: started, not draining, flows running, every
 * check passing. Each evaluation also sets the gRPC health status of every
 * service name, so `/readyz` and `grpc.health.v1.Health` agree.
 */
export class Readiness {
  readonly #opts: ReadinessOptions;
  #started = false;
  #draining = false;
  #serving: boolean | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(opts: ReadinessOptions) {
    this.#opts = opts;
    this.#publish(false);
  }

  /** True once draining began. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Marks start-up complete, evaluates now and, when there are checks, re-evaluates periodically. */
  async start(): Promise<void> {
    this.#started = true;
    await this.evaluate();
    if ((this.#opts.checks?.length ?? 0) > 0 && this.#timer === undefined) {
      this.#timer = setInterval(() => void this.evaluate(), READINESS_POLL_MS);
      this.#timer.unref();
    }
  }

  /** Not ready from now on, at once (one-way). */
  startDraining(): void {
    this.#draining = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#publish(false);
  }

  /** Evaluates readiness, updates gRPC health, and returns the report. */
  async evaluate(): Promise<ReadinessReport> {
    const checks: Record<string, string> = {
      started: this.#started ? 'ok' : 'starting',
      draining: this.#draining ? 'draining' : 'ok',
      flows: this.#opts.flowsRunning() ? 'ok' : 'not running',
    };
    const extra = this.#opts.checks ?? [];
    if (!this.#draining && extra.length > 0) {
      const results = await Promise.all(extra.map(withTimeout));
      extra.forEach((c, i) => (checks[c.name] = results[i]!));
    }
    // Draining may have begun while checks ran: it always wins.
    if (this.#draining) checks.draining = 'draining';
    const ready = Object.values(checks).every((v) => v === 'ok');
    this.#publish(ready);
    return { ready, checks };
  }

  #publish(serving: boolean): void {
    if (this.#serving === serving) return;
    this.#serving = serving;
    for (const name of this.#opts.services) this.#opts.health.setStatus(name, serving ? 'SERVING' : 'NOT_SERVING');
  }
}

/**
 * Waits for `idle` (a condition the host or the call registry signals) until
 * `deadline` (epoch ms).
 *
 * @returns true when `idle` resolved in time, false when the deadline came first.
 */
export async function idleBy(idle: Promise<void>, deadline: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([idle.then(() => true), sleep(Math.max(0, deadline - Date.now()), false, { signal: timer.signal })]);
  } finally {
    // The losing timer is cleared (its AbortError is handled by the race).
    timer.abort();
  }
}

/**
 * Waits until no trace is in flight or `deadline` (epoch ms) passes.
 *
 * @returns the traces still in flight (0 when all ended).
 */
export async function waitForTraces(catalog: FlowCatalog, deadline: number): Promise<number> {
  await idleBy(catalog.whenIdle(), deadline);
  return catalog.tracesInFlight;
}
