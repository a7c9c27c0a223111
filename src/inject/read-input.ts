// Where `kubewire inject` reads manifests: a file, every .yaml/.yml/.json file of a directory
// (sorted, not recursive), or standard input ("-" or nothing).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { UserError } from "../errors.js";

export interface ManifestSource {
  /** the file, or "-" for standard input */
  name: string;
  text: string;
}

export async function readManifests(path: string | undefined, stdin: NodeJS.ReadableStream = process.stdin): Promise<ManifestSource[]> {
  if (!path || path === "-") {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
    return [{ name: "-", text: Buffer.concat(chunks).toString("utf8") }];
  }
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    throw new UserError(`-f ${path}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : (err as Error).message}`);
  }
  const files = isDir
    ? readdirSync(path)
        .filter((f) => /\.(ya?ml|json)$/i.test(f))
        .sort()
        .map((f) => join(path, f))
    : [path];
  if (files.length === 0) throw new UserError(`-f ${path}: no .yaml, .yml or .json files in the directory`);
  return files.map((f) => ({ name: f, text: readFileSync(f, "utf8") }));
}
