/**
 * The workflow bundle loads zod and our schema modules once per worker (worker/workflow-preload.ts):
 * in the SDK's reusable V8 context, a module loaded before any workflow is shared by all of them;
 * any other module is evaluated again for each cached workflow (~2 MB of heap each for zod: 200
 * guards held ~450 MB; ~11 ms of the workflow thread per new guard for our schemas). Shared modules
 * and globals are deep-frozen by the SDK, so zod must still parse once frozen, and our schemas,
 * which zod 4 changes at their first use, must be left unfrozen.
 * The real SDK context on the real bundle; no server needed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vm from 'node:vm';
import { parseWorkflowCode } from '@temporalio/worker/lib/worker';
import { ReusableVMWorkflowCreator } from '@temporalio/worker/lib/workflow/reusable-vm';
import { buildBundle } from '../../worker/bundle';

/** The SDK's own reusable context, its V8 context made readable (the SDK keeps it protected). */
class InspectedCreator extends ReusableVMWorkflowCreator {
  get vmContext(): vm.Context {
    return this.context;
  }
}

describe('the workflow bundle shares zod across workflows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fvpb-preload-'));
  let creator: InspectedCreator;
  let zodModules: string[];
  let code: string;

  before(async () => {
    const path = await buildBundle(join(dir, 'workflow-bundle.js'));
    code = readFileSync(path, 'utf8');
    zodModules = [...new Set([...code.matchAll(/"(\.\/node_modules\/zod\/[^"]+\.js)"/g)].map((m) => m[1] as string))];
    // As the worker loads FVPB_WORKFLOW_BUNDLE (its codePath) into its reusable context.
    creator = await InspectedCreator.create(parseWorkflowCode(code, path), 5000, new Set());
  });
  after(async () => {
    await creator?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every zod module of the bundle is loaded before any workflow, into the shared module cache', () => {
    assert.ok(zodModules.length > 10, `zod modules in the bundle: ${zodModules.length}`);
    // With no workflow activator, the SDK's module cache answers from the shared modules only.
    const unshared = vm.runInContext(
      `(ids) => ids.filter((id) => !globalThis.__webpack_module_cache__[id])`,
      creator.vmContext,
    ) as (ids: string[]) => string[];
    assert.deepEqual(unshared(zodModules), []);
  });

  test('once the SDK has frozen them, the shared zod still builds schemas and parses, as a workflow does', () => {
    const external = zodModules.find((id) => id.endsWith('/v4/classic/external.js'));
    assert.ok(external, 'zod/v4/classic/external.js is in the bundle');
    const parse = vm.runInContext(
      `(id) => {
        const z = globalThis.__webpack_module_cache__[id].exports;
        const schema = z.object({ vm: z.string(), flushed: z.boolean() });
        return [schema.safeParse({ vm: 'vm-001', flushed: true }), schema.safeParse({ vm: 1 })];
      }`,
      creator.vmContext,
    ) as (id: string) => [{ success: boolean; data?: unknown }, { success: boolean; error?: { issues: unknown[] } }];
    const [good, bad] = parse(external as string);
    assert.equal(good.success, true);
    // An object of the context's realm: compared as JSON.
    assert.equal(JSON.stringify(good.data), '{"vm":"vm-001","flushed":true}');
    assert.equal(bad.success, false);
    assert.equal(bad.error?.issues.length, 2);
  });

  test('our schema modules are shared too, and every schema they export still parses as a workflow parses it', () => {
    const ours = [
      ...new Set([...code.matchAll(/"(\.\/(?:domain|workflows)\/[^"]+\.ts)"/g)].map((m) => m[1] as string)),
    ];
    const sharedOf = vm.runInContext(
      `(ids) => ids.filter((id) => globalThis.__webpack_module_cache__[id])`,
      creator.vmContext,
    ) as (ids: string[]) => string[];
    const shared = sharedOf(ours);
    for (const id of [
      './domain/guard-protocol.ts',
      './domain/notification.ts',
      './domain/policy.ts',
      './workflows/input.ts',
    ])
      assert.ok(shared.includes(id), `${id} is evaluated once per worker (shared: ${shared.join(', ')})`);
    // Workflow modules proper (timers, handlers, patches) stay one per workflow.
    assert.ok(!shared.includes('./workflows/guard/entity.ts'));

    // Each exported schema parsed with values that take zod down its first-use paths: a method read
    // for the first time, an object's first parse, a missing key asking each property whether it is
    // optional. On a schema the SDK froze, each of these throws.
    const probe = vm.runInContext(
      `(ids) => {
        const values = [undefined, null, {}, [], 'x', 1, { kind: 'acquire', vm: 'vm-001' }];
        const failures = [];
        let schemas = 0;
        for (const id of ids) {
          for (const [name, value] of Object.entries(globalThis.__webpack_module_cache__[id].exports)) {
            if (!value || typeof value !== 'object' || !('_zod' in value)) continue;
            schemas++;
            for (const v of values) {
              try { value.safeParse(v); } catch (err) { failures.push(id + ' ' + name + ': ' + err.message); break; }
            }
          }
        }
        return { schemas, failures };
      }`,
      creator.vmContext,
    ) as (ids: string[]) => { schemas: number; failures: string[] };
    const { schemas, failures } = probe(shared);
    assert.ok(schemas > 30, `schemas probed: ${schemas}`);
    assert.deepEqual([...failures], []); // an array of the context's realm
  });
});
