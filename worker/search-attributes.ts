/**
 * The worker refuses to start on a namespace that lacks the product's search attributes
 * (domain/search-attributes.ts): every run and guard upserts them, and an upsert of an unknown
 * attribute fails the workflow *task*, over and over, which would leave a run stuck with its VMs
 * in write-through. Better to stop at start-up and say which command registers them.
 */
import type { NativeConnection } from '@temporalio/worker';
import { CLI_TYPE_NAMES, SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { ConfigError } from './config';

/** The server's name of each type in ListSearchAttributes (enum IndexedValueType). */
const SERVER_TYPES: Record<string, number> = { Keyword: 2, Bool: 5, KeywordList: 7 };

export async function requireSearchAttributes(connection: NativeConnection, namespace: string): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((key) => {
    const type = CLI_TYPE_NAMES[key.type];
    return Number(customAttributes?.[key.name]) !== SERVER_TYPES[type];
  });
  if (missing.length === 0) return;
  const commands = missing.map(
    (key) =>
      `temporal operator search-attribute create --namespace ${namespace} --name ${key.name} --type ${CLI_TYPE_NAMES[key.type]}`,
  );
  throw new ConfigError(
    `namespace ${JSON.stringify(namespace)} lacks the search attributes ${missing.map((k) => k.name).join(', ')} ` +
      `(or has them with another type): register them, then start the worker again:\n  ${commands.join('\n  ')}`,
  );
}
