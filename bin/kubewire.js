#!/usr/bin/env node
// Entry point for `kubewire` and the kubectl plugin `kubectl-wire`: runs the compiled CLI.
import { main } from "../dist/cli/main.js";

main(process.argv);
