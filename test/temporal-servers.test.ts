import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDevServer, startTimeSkippingServer } from './helpers/temporal';

test('the dev server from .tools answers and knows the default namespace', async () => {
  const env = await startDevServer();
  try {
    const ns = await env.client.workflowService.describeNamespace({ namespace: 'default' });
    assert.equal(ns.namespaceInfo?.name, 'default');
  } finally {
    await env.teardown();
  }
});

test('the time-skipping server from .tools jumps over a long sleep', async () => {
  const env = await startTimeSkippingServer();
  try {
    const before = await env.currentTimeMs();
    await env.sleep('3 days');
    assert.ok((await env.currentTimeMs()) - before >= 3 * 24 * 3600 * 1000, 'server time advanced by three days');
  } finally {
    await env.teardown();
  }
});
