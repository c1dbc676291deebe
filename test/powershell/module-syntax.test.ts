/**
 * The PowerShell syntax and surface check of FvpBackup.psm1 (issue 11), with a maintained parser:
 * the tree-sitter PowerShell grammar (npm tree-sitter-powershell, its WASM build) run by
 * web-tree-sitter. No PowerShell runs on this machine; this is the strongest check available here.
 * Not PowerShell's own parser: it cannot resolve parameter sets or types (docs/deploying.md says
 * what only a real host can tell).
 *
 * 1. The module parses with no ERROR or MISSING node.
 * 2. It uses no syntax Windows PowerShell 5.1 lacks: ternary `?:`, `??`, `?.` (the grammar has no
 *    rule for them: they show as ERROR nodes, checked on controls below), `&&`/`||` pipeline
 *    chains, `ForEach-Object -Parallel`, `clean {}` blocks, classes, `::new()`.
 * 3. Every vendor cmdlet it calls (`*-Prnx*`, `*-VBR*`, `Connect-*` not defined by the module) and
 *    every parameter it passes to one, literally or by splatting a hashtable built in the same
 *    function, appears in the vendor-facts table (activities/vendor/facts.ts CMDLETS); every
 *    vendor .NET type or method it touches is in VENDOR_METHODS. A parameter whose name is computed
 *    at run time is refused: the check could not see it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { DEFAULT_MODULE_PATH } from '../../activities/powershell/pool';
import { CMDLETS, COMMON_PARAMETERS, VENDOR_METHODS } from '../../activities/vendor/facts';

const require = createRequire(__filename);
const source = readFileSync(DEFAULT_MODULE_PATH, 'utf8');

let parser: Parser | undefined;
async function parse(text: string) {
  if (parser === undefined) {
    await Parser.init();
    const language = await Language.load(require.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm'));
    parser = new Parser();
    parser.setLanguage(language);
  }
  const tree = parser.parse(text);
  assert.ok(tree, 'the parser returned a tree');
  return tree.rootNode;
}

function descendants(node: Node, out: Node[] = []): Node[] {
  for (const child of node.children) {
    if (child === null) continue;
    out.push(child);
    descendants(child, out);
  }
  return out;
}

function problems(root: Node): string[] {
  return descendants(root)
    .filter((n) => n.type === 'ERROR' || n.isMissing)
    .map((n) => `${n.isMissing ? 'MISSING' : 'ERROR'} at line ${n.startPosition.row + 1}: ${n.text.slice(0, 60)}`);
}

const where = (n: Node) => `line ${n.startPosition.row + 1}`;

test('the module parses with no ERROR or MISSING node', async () => {
  const root = await parse(source);
  assert.deepEqual(problems(root), []);
  assert.equal(root.hasError, false);
});

test('the parser catches what it must (controls)', async () => {
  for (const bad of [
    '$a ? 1 : 2',
    '$d ?? 3',
    '${f}?.Name',
    'if ($x) {',
    '$y = (1 + ',
    'ForEach-Object -Parallel { 1 }',
  ]) {
    assert.ok(problems(await parse(bad)).length > 0, `an error is reported for ${bad}`);
  }
  assert.ok(descendants(await parse('a && b')).some((n) => n.type === 'pipeline_chain_tail'));
});

test('the module uses no syntax Windows PowerShell 5.1 lacks', async () => {
  const nodes = descendants(await parse(source));
  const chains = nodes.filter((n) => n.type === 'pipeline_chain_tail');
  assert.deepEqual(chains.map(where), [], 'no && / || pipeline chains');
  const classes = nodes.filter((n) => n.type === 'class_statement' || n.type === 'enum_statement');
  assert.deepEqual(classes.map(where), [], 'no classes or enums');
  const commands = nodes.filter((n) => n.type === 'command');
  for (const command of commands) {
    const name = command.childForFieldName('command_name')?.text ?? '';
    const parameters = command.descendantsOfType('command_parameter').map((p) => p?.text ?? '');
    assert.ok(!parameters.some((p) => /^-Parallel:?$/i.test(p)), `${where(command)}: no -Parallel`);
    assert.ok(!/^clean$/i.test(name), `${where(command)}: no clean {} block`);
    if (/^ConvertFrom-Json$/i.test(name)) {
      assert.ok(
        !parameters.some((p) => /^-(AsHashtable|Depth)$/i.test(p)),
        `${where(command)}: ConvertFrom-Json 5.1 parameters`,
      );
    }
    if (/^ConvertTo-Json$/i.test(name)) {
      assert.ok(parameters.includes('-Depth'), `${where(command)}: ConvertTo-Json needs -Depth on 5.1 (default 2)`);
    }
  }
  const invocations = nodes.filter((n) => n.type === 'invokation_expression' || n.type === 'member_access');
  assert.deepEqual(
    invocations.filter((n) => /::new\s*\(/i.test(n.text)).map(where),
    [],
    'no ::new() (5.0+, but keep New-Object like the rest of the module)',
  );
});

interface Call {
  cmdlet: string;
  parameters: string[];
  dynamic: string[];
  line: number;
}

/** Every vendor cmdlet call of the module with the parameters it passes. */
async function vendorCalls(): Promise<Call[]> {
  const root = await parse(source);
  const nodes = descendants(root);
  const ownFunctions = new Set(nodes.filter((n) => n.type === 'function_name').map((n) => n.text.toLowerCase()));
  const isVendor = (name: string) =>
    (/^[A-Za-z]+-(Prnx|VBR)\w*$/.test(name) || /^Connect-\w+$/.test(name)) && !ownFunctions.has(name.toLowerCase());
  const calls: Call[] = [];
  for (const command of nodes.filter((n) => n.type === 'command')) {
    const name = command.childForFieldName('command_name')?.text ?? '';
    if (!isVendor(name)) continue;
    const parameters: string[] = [];
    const dynamic: string[] = [];
    const elements = command.childForFieldName('command_elements');
    for (const element of elements?.namedChildren ?? []) {
      if (element === null) continue;
      if (element.type === 'command_parameter') parameters.push(element.text.replace(/^-/, '').replace(/:$/, ''));
      const splat = element.type === 'variable' && element.text.startsWith('@') ? element : null;
      const nested = splat ?? element.descendantsOfType('variable').find((v) => v?.text.startsWith('@')) ?? null;
      if (nested) {
        const resolved = splatKeys(command, nested.text.slice(1));
        parameters.push(...resolved.keys);
        dynamic.push(...resolved.dynamic);
      }
    }
    calls.push({ cmdlet: name, parameters, dynamic, line: command.startPosition.row + 1 });
  }
  return calls;
}

/** The keys of hashtable `$name` as built in the function around `at`: literal entries and `$name.Key =`. */
function splatKeys(at: Node, name: string): { keys: string[]; dynamic: string[] } {
  let scope: Node | null = at;
  while (scope !== null && scope.type !== 'function_statement') scope = scope.parent;
  assert.ok(scope, `splat @${name} at line ${at.startPosition.row + 1} is inside a function`);
  const keys: string[] = [];
  const dynamic: string[] = [];
  const variable = `$${name}`.toLowerCase();
  for (const assignment of scope.descendantsOfType('assignment_expression')) {
    if (assignment === null) continue;
    const left = assignment.namedChildren[0];
    if (!left || left.type !== 'left_assignment_expression') continue;
    const target = left.text.toLowerCase();
    if (target === variable) {
      for (const entry of assignment.descendantsOfType('key_expression')) {
        if (entry) keys.push(entry.text.replace(/^'(.*)'$/, '$1'));
      }
    } else if (target.startsWith(`${variable}.`)) {
      keys.push(left.text.slice(variable.length + 1));
    } else if (target.startsWith(`${variable}[`)) {
      const index = /^\$\w+\['([A-Za-z]+)'\]$/.exec(left.text);
      if (index) keys.push(index[1] as string);
      else dynamic.push(`${left.text} (line ${assignment.startPosition.row + 1})`);
    }
  }
  return { keys, dynamic };
}

test('every vendor cmdlet and parameter the module uses is in the vendor-facts table', async () => {
  const calls = await vendorCalls();
  assert.ok(calls.length >= 10, `the check sees the module's vendor calls (${calls.length})`);
  const common = new Set<string>(COMMON_PARAMETERS);
  const unknown: string[] = [];
  for (const call of calls) {
    const fact = CMDLETS[call.cmdlet];
    if (fact === undefined) {
      unknown.push(`line ${call.line}: cmdlet ${call.cmdlet} is not in CMDLETS`);
      continue;
    }
    for (const parameter of call.parameters) {
      if (common.has(parameter)) continue;
      if (!Object.prototype.hasOwnProperty.call(fact.parameters, parameter)) {
        unknown.push(`line ${call.line}: ${call.cmdlet} -${parameter} is not in CMDLETS`);
      }
    }
    for (const d of call.dynamic) unknown.push(`line ${call.line}: ${call.cmdlet} gets a computed parameter name ${d}`);
  }
  assert.deepEqual(unknown, []);
});

test('every vendor .NET type and method the module touches is in the vendor-facts table', async () => {
  const nodes = descendants(await parse(source));
  const unknown: string[] = [];
  for (const literal of nodes.filter((n) => n.type === 'type_literal')) {
    const type = literal.text.replace(/^\[|\]$/g, '');
    if (!/^Veeam\.|Prnx/i.test(type)) continue;
    const call = literal.parent?.type === 'invokation_expression' ? literal.parent : null;
    const method = call ? /::(\w+)\s*\(/.exec(call.text)?.[1] : undefined;
    const key = method ? `${type}::${method}` : type;
    if (!Object.prototype.hasOwnProperty.call(VENDOR_METHODS, key)) unknown.push(`${where(literal)}: ${key}`);
  }
  assert.deepEqual(unknown, []);
});

test('the check refuses what it cannot see (controls)', async () => {
  const keys = splatKeys(
    descendants(await parse('function f { $p = @{ A = 1 }\n $p.B = 2\n $p[$x] = 3\n Get-PrnxVM @p }')).find(
      (n) => n.type === 'command',
    ) as Node,
    'p',
  );
  assert.deepEqual(keys.keys, ['A', 'B']);
  assert.equal(keys.dynamic.length, 1);
});

test('no unfiltered Get-VBRBackupSession: every call filters by -Id or -Job (issue 11 finding 1)', async () => {
  const calls = (await vendorCalls()).filter((c) => c.cmdlet === 'Get-VBRBackupSession');
  assert.ok(calls.length >= 1);
  for (const call of calls) {
    assert.ok(
      call.parameters.includes('Id') || call.parameters.includes('Job'),
      `line ${call.line}: Get-VBRBackupSession reads the whole history without -Id or -Job`,
    );
  }
});
