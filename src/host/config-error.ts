/**
 * A setting that cannot be served: the process reports it in one line and exits 2.
 */

/** A configuration problem; `message` is one line that names the variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The environment variable (or file) at fault. */
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(message);
    this.variable = variable;
  }
}
