import type { ZodType } from 'zod';

/** Input and output schemas of one node. */
export interface NodeSchemas {
  in: ZodType;
  out: ZodType;
}

/**
 * Validates node inputs and outputs with zod. A node registered here has its
 * input parsed before each invocation and its output parsed after it,
 * according to its `NodePolicy.validate` (`both` by default). A failed parse
 * counts as a node exception (so retries and `node_failed` apply), and the
 * parsed value (with zod's defaults and transforms) is what flows on.
 */
export class ModelRegistry {
  readonly #schemas = new Map<string, NodeSchemas>();

  /** @throws Error when `nodeName` is registered twice. */
  register(nodeName: string, inSchema: ZodType, outSchema: ZodType): this {
    if (this.#schemas.has(nodeName)) throw new Error(`node ${nodeName} is already registered`);
    this.#schemas.set(nodeName, { in: inSchema, out: outSchema });
    return this;
  }

  /** The schemas of a node, if registered. */
  get(nodeName: string): NodeSchemas | undefined {
    return this.#schemas.get(nodeName);
  }

  /** Names of registered nodes. */
  names(): string[] {
    return [...this.#schemas.keys()];
  }
}
