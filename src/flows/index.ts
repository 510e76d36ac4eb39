/**
 * The demo flows the server hosts unless `PENGUIFLOW_DEMO_FLOWS=false`.
 * Imported statically so they load the same way from `src/` (tsx, vitest)
 * and from the compiled `dist/`.
 */
import type { FlowDefinition } from '../runtime/define-flow.js';
import chain5 from './chain5.js';
import echo from './echo.js';
import fanout from './fanout.js';
import flaky from './flaky.js';
import slow from './slow.js';
import stream from './stream.js';

/** echo, chain5, stream, fanout, slow and flaky. */
export const demoFlows: readonly FlowDefinition[] = [echo, chain5, stream, fanout, slow, flaky];
