/**
 * The lab's HTTP API (node:http, JSON in and out). Bad input is a 400 whose `error` names the
 * field; an unknown path a 404. See lab/api.ts for the shapes and lab/client.ts for a typed client.
 *
 *   GET  /                      {simulator: true, name, notice, now}
 *   POST /ps/invoke             InvokeRequest -> InvokeResponse (lab/protocol.ts)
 *   POST /scenario              ScenarioInput -> LabStateView (replaces all state)
 *   GET  /scenario              the loaded scenario (no credential values)
 *   GET  /state                 LabStateView
 *   GET  /verdicts?job&vm&sessionId           {verdicts: Verdict[]}
 *   GET  /timeline              {vms: VmTimeline[]}
 *   GET  /invocations?sinceSeq&op&endpoint    InvocationsView
 *   POST /faults                {rules, seed?} -> FaultsView (replaces the rules)
 *   GET  /faults                FaultsView
 *   POST /fvp/management-server {up: boolean} -> {up}
 *   POST /veeam/server          {up: boolean} -> {up}
 *   POST /vms/<encodeURIComponent(name)>/policy  {requested: RequestedPolicy} -> VmView
 *   POST /vms/<encodeURIComponent(name)>/remove  {from: 'fvp' | 'cluster'} -> {vm: VmView | null}
 *                               the VM is deleted from FVP, or removed from its FVP cluster
 *   POST /vms/<encodeURIComponent(name)>/rename  {to, uuid?} -> {vm: VmView}
 *                               the VM is renamed in vCenter: same uuid, policy and jobs (lab/model/rename.ts);
 *                               `uuid` picks one of two same-name VMs of two flash clusters
 *   POST /reset                 reloads the loaded scenario from scratch -> LabStateView
 *   POST /veeam/jobs/<encodeURIComponent(name)>/scheduled-session  {retry?, outcome?} -> {id, name, createdAt}
 *                               Veeam's scheduler starts a session (lab/scheduler.ts)
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { z } from 'zod';
import { ServerUpBody, VmPolicyBody, VmRemoveBody, VmRenameBody } from './api';
import { SIMULATOR_NOTICE } from './doctor';
import { Lab, LabInputError, parseInput } from './lab';
import { InvokeRequest } from './protocol';

const MAX_BODY_BYTES = 16 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface LabServerOptions {
  lab: Lab;
  /** Persists the state if it changed; called before every response. */
  persist?: () => void;
  /** Where unexpected errors are reported (default: stderr). */
  onError?: (error: unknown) => void;
}

export function createLabServer(options: LabServerOptions): Server {
  const { lab } = options;
  const persist = options.persist ?? (() => undefined);
  const onError = options.onError ?? ((error: unknown) => console.error('lab: internal error', error));

  async function route(req: IncomingMessage, url: URL): Promise<unknown> {
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const query = (): Record<string, string> => Object.fromEntries(url.searchParams);
    const body = async <S extends z.ZodType>(schema: S, what: string): Promise<z.infer<S>> =>
      parseInput(schema, await readJson(req), what);

    if (method === 'GET' && (path === '/' || path === '/health')) {
      return { simulator: true, name: 'fvp-backup lab', notice: SIMULATOR_NOTICE, now: lab.now() };
    }
    if (method === 'POST' && path === '/ps/invoke') return lab.invoke(await body(InvokeRequest, 'invoke request'));
    if (method === 'POST' && path === '/scenario') {
      lab.loadScenario(await readJson(req));
      return lab.view();
    }
    if (method === 'GET' && path === '/scenario') return lab.scenario();
    if (method === 'GET' && path === '/state') return lab.view();
    if (method === 'GET' && path === '/verdicts') return { verdicts: lab.verdicts(query()) };
    if (method === 'GET' && path === '/timeline') return { vms: lab.timeline() };
    if (method === 'GET' && path === '/invocations') return lab.invocations(query());
    if (method === 'POST' && path === '/faults') return lab.setFaults(await readJson(req));
    if (method === 'GET' && path === '/faults') return lab.faults();
    if (method === 'POST' && path === '/fvp/management-server') {
      const { up } = await body(ServerUpBody, 'body');
      lab.setManagementServer(up);
      return { up };
    }
    if (method === 'POST' && path === '/veeam/server') {
      const { up } = await body(ServerUpBody, 'body');
      lab.setVeeamServer(up);
      return { up };
    }
    const policy = /^\/vms\/([^/]+)\/policy$/.exec(path);
    if (method === 'POST' && policy !== null) {
      let name: string;
      try {
        name = decodeURIComponent(policy[1]!);
      } catch {
        throw new LabInputError('invalid VM name in the path: not valid percent-encoding');
      }
      const { requested } = await body(VmPolicyBody, 'body');
      lab.setVmPolicy(name, requested);
      return lab.view().fvp.vms.find((vm) => vm.name === name);
    }
    const removal = /^\/vms\/([^/]+)\/remove$/.exec(path);
    if (method === 'POST' && removal !== null) {
      let name: string;
      try {
        name = decodeURIComponent(removal[1]!);
      } catch {
        throw new LabInputError('invalid VM name in the path: not valid percent-encoding');
      }
      const { from } = await body(VmRemoveBody, 'body');
      lab.removeVm(name, from);
      return { vm: lab.view().fvp.vms.find((vm) => vm.name === name) ?? null };
    }
    const rename = /^\/vms\/([^/]+)\/rename$/.exec(path);
    if (method === 'POST' && rename !== null) {
      let name: string;
      try {
        name = decodeURIComponent(rename[1]!);
      } catch {
        throw new LabInputError('invalid VM name in the path: not valid percent-encoding');
      }
      const { to, uuid } = await body(VmRenameBody, 'body');
      const renamed = lab.renameVm(name, to, uuid);
      return { vm: lab.view().fvp.vms.find((vm) => vm.uuid === renamed) };
    }
    const scheduled = /^\/veeam\/jobs\/([^/]+)\/scheduled-session$/.exec(path);
    if (method === 'POST' && scheduled !== null) {
      let name: string;
      try {
        name = decodeURIComponent(scheduled[1]!);
      } catch {
        throw new LabInputError('invalid job name in the path: not valid percent-encoding');
      }
      return lab.startScheduledSession(name, await readJson(req));
    }
    if (method === 'POST' && path === '/reset') {
      lab.reset();
      return lab.view();
    }
    const known = KNOWN_PATHS.has(path) || policy !== null || removal !== null || rename !== null;
    throw new HttpError(known ? 405 : 404, known ? `method ${method} not allowed on ${path}` : `no such path: ${path}`);
  }

  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://lab.invalid');
    route(req, url).then(
      (result) => {
        persist();
        send(res, 200, result ?? null);
      },
      (error: unknown) => {
        try {
          persist();
        } catch (persistError) {
          onError(persistError);
        }
        if (error instanceof LabInputError) send(res, 400, { error: error.message });
        else if (error instanceof HttpError) send(res, error.status, { error: error.message });
        else {
          onError(error);
          send(res, 500, { error: `lab internal error: ${error instanceof Error ? error.message : String(error)}` });
        }
      },
    );
  });
}

const KNOWN_PATHS = new Set([
  '/',
  '/health',
  '/ps/invoke',
  '/scenario',
  '/state',
  '/verdicts',
  '/timeline',
  '/invocations',
  '/faults',
  '/fvp/management-server',
  '/veeam/server',
  '/reset',
]);

function send(res: ServerResponse, status: number, value: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new LabInputError(`invalid JSON body: ${(error as Error).message}`);
  }
}
