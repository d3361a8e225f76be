/**
 * @qwip/cli: the `qwip` staff tool. `main(argv)` runs it in process and returns the exit code.
 */
export { main, root } from "./Cli.js"
