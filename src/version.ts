/** Nimble's version, read from package.json. */
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
export const NIMBLE_VERSION: string = pkg.version;
