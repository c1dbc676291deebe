/**
 * Pre-builds the workflow bundle for production starts (no webpack at worker start-up).
 * Usage: npm run build:bundle [-- <output path>]   (default dist/workflow-bundle.js)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

export const workflowsPath = resolve(__dirname, '..', 'workflows', 'index.ts');
export const defaultBundlePath = resolve(__dirname, '..', 'dist', 'workflow-bundle.js');
/** Evaluated once per worker and shared by all workflows, not once per cached workflow: see that file. */
export const preloadModules = [resolve(__dirname, 'workflow-preload')];

export async function buildBundle(outputPath = defaultBundlePath): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, preloadModules, logger: undefined });
  mkdirSync(dirname(outputPath), { recursive: true });
  writeFileSync(outputPath, code);
  return outputPath;
}

if (require.main === module) {
  buildBundle(process.argv[2] ? resolve(process.argv[2]) : undefined)
    .then((path) => console.log(`workflow bundle written to ${path}`))
    .catch((err) => {
      console.error(err);
      process.exit(1);
    });
}
