#!/usr/bin/env node
// Entry point for `kubewire` and the kubectl plugin `kubectl-wire`: runs the compiled CLI.
// `exec` loads its own command alone: its start-up is added to every wrapped command's run.
if (process.argv[2] === "exec") {
  const [{ runProgram }, { makeExecCommand }] = await Promise.all([import("../dist/cli/program.js"), import("../dist/cli/commands/exec.js")]);
  await runProgram(process.argv, [makeExecCommand]);
  // Every record is written, every file closed and the output written (synchronously, as Node writes to
  // files and pipes): exit without tearing the VM down, which a wrapped command's run would also wait for.
  process.exit();
} else {
  const { main } = await import("../dist/cli/main.js");
  await main(process.argv);
}
