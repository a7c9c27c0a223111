// What `kubewire` runs (bin/kubewire.js loads this, bundled): `exec` loads its own steps alone, as its
// start-up is added to every wrapped command's run, and a plain `exec` (exec-steps.ts: fastExecInput)
// starts without commander; every other command goes through the whole program.
export async function run(argv: string[]): Promise<void> {
  if (argv[2] === "exec") {
    // the session's first half (session/prepare.js) loads alongside: exec needs it before the command starts
    const [{ runFastExec }] = await Promise.all([import("./exec-steps.js"), import("../session/prepare.js")]);
    if (!(await runFastExec(argv))) {
      const [{ runProgram }, { makeExecCommand }] = await Promise.all([import("./program.js"), import("./commands/exec.js")]);
      await runProgram(argv, [makeExecCommand]);
    }
    // Every record is written, every file closed and the output written (synchronously, as Node writes to
    // files and pipes): exit without tearing the VM down, which a wrapped command's run would also wait for.
    process.exit();
  }
  await (await import("./main.js")).main(argv);
}
