/** See build-sdk.mjs: builds the SDK library into `outdir` (default sdk/dist) and returns it. */
export function buildSdk(outdir?: string): Promise<string>;
