/**
 * The wire contract between the fake PowerShell host (lab/fake-powershell) and the lab server.
 * The fake host speaks node-powershell's stdin protocol on one side and forwards every
 * `Invoke-Op '<Function>' '<base64 JSON>'` line here as a POST /ps/invoke.
 */
import { z } from 'zod';
import { EndpointName } from '../domain/endpoint';

export const InvokeRequest = z
  .object({
    endpoint: EndpointName,
    /** PID of the fake host process, so the lab can tell sessions apart and count process starts. */
    pid: z.number().int(),
    op: z.string(),
    /** The decoded JSON arguments, exactly as the host received them. */
    args: z.unknown(),
    /** What the host found in its environment for credentials (the lab checks them; never logged). */
    credential: z.object({ user: z.string(), password: z.string() }).strict().nullable(),
  })
  .strict();
export type InvokeRequest = z.infer<typeof InvokeRequest>;

/**
 * What the host must do: print `stdout` (one JSON document, normally an Invoke-Op envelope), die
 * in the middle of the call (exit without answering), hang (never answer), or print garbage.
 */
export const InvokeResponse = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('print'), stdout: z.string(), delayMs: z.number().int().min(0).default(0) }).strict(),
  z.object({ kind: z.literal('die'), exitCode: z.number().int().default(1) }).strict(),
  z.object({ kind: z.literal('hang') }).strict(),
  z.object({ kind: z.literal('stderr'), stderr: z.string() }).strict(),
]);
export type InvokeResponse = z.infer<typeof InvokeResponse>;

/** Environment variables the fake host reads. */
export const FAKE_HOST_ENV = {
  labUrl: 'FVPB_LAB_URL',
  /** Which endpoint this process plays (fvp or veeam). */
  endpoint: 'FVPB_ENDPOINT',
  /** Simulated module import + connect time at process start, in ms (real hosts take seconds). */
  startupMs: 'FVPB_FAKE_STARTUP_MS',
} as const;

/** Environment variables through which credentials reach any PowerShell host (real or fake). */
export const CREDENTIAL_ENV = {
  user: 'FVPB_CRED_USER',
  password: 'FVPB_CRED_PASSWORD',
} as const;
