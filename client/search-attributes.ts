/**
 * The product's search attributes (domain/search-attributes.ts) from the client's side: how a
 * server gets them (dev-server flags, or registration through the operator API for a cluster or a
 * dev-server database created before they existed), what a start sets, how list queries name them.
 *
 *   temporal server start-dev ... ${devServerSearchAttributeArgs().join(' ')}
 *   await registerSearchAttributes(connection, 'default');          // idempotent
 *   client.workflow.list({ query: `FvpbVms = ${visibilityString('sql-01')}` })
 */
import { isGrpcServiceError, type Connection } from '@temporalio/client';
import { TypedSearchAttributes, type SearchAttributePair } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import {
  CLI_TYPE_NAMES,
  JOB_ATTRIBUTE,
  PHASE_ATTRIBUTE,
  RESTORE_PENDING_ATTRIBUTE,
  SEARCH_ATTRIBUTES,
  VMS_ATTRIBUTE,
} from '../domain/search-attributes';
import { utf8ByteLength } from '../workflows/input';

export { JOB_ATTRIBUTE, PHASE_ATTRIBUTE, RESTORE_PENDING_ATTRIBUTE, SEARCH_ATTRIBUTES, VMS_ATTRIBUTE };

/** `--search-attribute FvpbJob=Keyword ...`: what `temporal server start-dev` takes. */
export function devServerSearchAttributeArgs(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${CLI_TYPE_NAMES[key.type]}`]);
}

/** `temporal operator search-attribute create --name FvpbJob --type Keyword ...` for a real cluster. */
export function operatorCreateArgs(): string[] {
  return [
    'operator',
    'search-attribute',
    'create',
    ...SEARCH_ATTRIBUTES.flatMap((key) => ['--name', key.name, '--type', CLI_TYPE_NAMES[key.type]]),
  ];
}

/** gRPC status UNIMPLEMENTED (the SDK does not re-export grpc-js's status enum). */
const GRPC_UNIMPLEMENTED = 12;

function indexedValueType(type: (typeof SEARCH_ATTRIBUTES)[number]['type']) {
  const encoded = encodeSearchAttributeIndexedValueType(type);
  if (encoded === undefined) throw new Error(`no indexed value type for search attribute type ${type}`);
  return encoded;
}

/**
 * Registers the attributes a namespace lacks, through the operator API. The dev server registers
 * its `--search-attribute` flags only when it creates its database: a `.data/temporal.db` from
 * before needs this. Registering an attribute that exists with the same type is a no-op; one that
 * exists with another type is an error (the server says which).
 */
export async function registerSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  const known = new Set<string>();
  try {
    const existing = await connection.operatorService.listSearchAttributes({ namespace });
    for (const name of Object.keys(existing.customAttributes ?? {})) known.add(name);
    for (const name of Object.keys(existing.systemAttributes ?? {})) known.add(name);
  } catch (err) {
    // The time-skipping test server adds attributes but cannot list them: add them all.
    if (!(isGrpcServiceError(err) && err.code === GRPC_UNIMPLEMENTED)) throw err;
  }
  const missing = SEARCH_ATTRIBUTES.filter((key) => !known.has(key.name));
  if (missing.length) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, indexedValueType(key.type)])),
    });
  }
  return missing.map((key) => key.name);
}

/**
 * The server refuses a start whose search attribute is larger than `limit.searchAttributeSizeLimit`
 * (2 KiB by default, per attribute). A VM list that large is still protected; only its
 * searchability at start is given up (the workflow's own upserts follow their own bound).
 */
const MAX_VMS_ATTRIBUTE_BYTES = 1_800;

/**
 * What a start sets, so that a run is found by job and by VM before the workflow's first upsert
 * (and even when no worker ever picks it up): the job, and the VMs the input names (the job's own
 * VMs are known only once the workflow resolved them, and it upserts them then).
 */
export function startSearchAttributes(job: string, vms: readonly string[] | undefined): TypedSearchAttributes {
  const pairs: SearchAttributePair[] = [{ key: JOB_ATTRIBUTE, value: job }];
  const list = [...new Set(vms ?? [])];
  if (list.length && utf8ByteLength(JSON.stringify(list)) <= MAX_VMS_ATTRIBUTE_BYTES) {
    pairs.push({ key: VMS_ATTRIBUTE, value: list });
  }
  return new TypedSearchAttributes(pairs);
}

/**
 * A string literal of a visibility query. The server's parser takes backslash escapes inside a
 * quoted string (`\'`, `\\`), so a job or VM name with quotes or backslashes is matched exactly
 * and cannot change the query (test/client/library.test.ts lists runs of such names).
 */
export function visibilityString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
