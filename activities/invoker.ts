/**
 * The only thing activities need from the PowerShell boundary: run one operation of our module
 * and get its validated result. Tests and the lab satisfy it with the same pools production uses.
 */
import type { OperationArgs, OperationName, OperationResult } from './powershell/operations';

export interface OperationInvoker {
  invoke<O extends OperationName>(op: O, args: OperationArgs<O>): Promise<OperationResult<O>>;
}
