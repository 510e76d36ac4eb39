/**
 * The request headers of a call, as every transport can provide them.
 *
 * gRPC calls them metadata, Connect and gRPC-Web plain HTTP headers; auth,
 * tracing and handlers read them only through this interface, so a new
 * binding supplies an adapter and nothing else changes. grpc-js' `Metadata`
 * already has this shape and is passed as is (no copy per call).
 */

/**
 * Read-only request headers.
 *
 * Names are looked up case-insensitively as lowercase ASCII (transports
 * normalize them). Never log the whole set: it may carry credentials.
 */
export interface RpcMetadata {
  /**
   * Every value sent under `name`, in arrival order; empty when the header
   * is absent. A header sent twice gives two values (auth modes refuse a
   * repeated identity header). Binary (`-bin`) headers give bytes; all
   * others give strings.
   */
  get(name: string): readonly (string | Uint8Array)[];
}
