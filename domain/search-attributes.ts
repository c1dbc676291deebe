/**
 * The custom search attributes the product sets, so operators find runs and guards in the Web UI
 * and with `temporal workflow list --query`: "runs of job X", "runs that touched sql-01", "VMs not
 * yet restored". A cluster must have them registered (scripts/dev-server.mjs and the test servers
 * do it; the README gives the `temporal operator search-attribute create` commands).
 * Workflow-safe: typed keys from @temporalio/common only.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** protectedBackup: the Veeam job. */
export const JOB_ATTRIBUTE = defineSearchAttributeKey('FvpbJob', SearchAttributeType.KEYWORD);
/** protectedBackup: every VM the run protects; vmGuard: its VM. */
export const VMS_ATTRIBUTE = defineSearchAttributeKey('FvpbVms', SearchAttributeType.KEYWORD_LIST);
/** protectedBackup: its phase (`resolving`, `backing-up`, …); vmGuard: its phase (`protected`, `restoring`, …). */
export const PHASE_ATTRIBUTE = defineSearchAttributeKey('FvpbPhase', SearchAttributeType.KEYWORD);
/** protectedBackup: a VM it switched is not back yet; vmGuard: it owes its VM a restore. */
export const RESTORE_PENDING_ATTRIBUTE = defineSearchAttributeKey('FvpbRestorePending', SearchAttributeType.BOOL);

export const SEARCH_ATTRIBUTES = [JOB_ATTRIBUTE, VMS_ATTRIBUTE, PHASE_ATTRIBUTE, RESTORE_PENDING_ATTRIBUTE] as const;

/** How the Temporal CLI names each type (`--search-attribute Name=Type`, `operator search-attribute create --type`). */
export const CLI_TYPE_NAMES: Record<(typeof SEARCH_ATTRIBUTES)[number]['type'], string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
  [SearchAttributeType.BOOL]: 'Bool',
};
