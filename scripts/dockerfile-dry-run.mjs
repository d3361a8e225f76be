#!/usr/bin/env node
/**
 * Runs the Dockerfile's steps without a container engine (none runs on our machines or CI's),
 * so the recipe is proven on every change: each stage is a temporary directory standing for its
 * WORKDIR, COPY copies from the repository (minus .dockerignore) or an earlier stage, RUN runs
 * the command there with the stage's ENV. Then the final stage's CMD starts the service, its
 * HEALTHCHECK command must pass (`/readyz`), `/api/pods` and the booking page must answer, SIGTERM must stop it
 * cleanly, and the production install must hold no build or test tool.
 * With QWIP_TEST_DATABASE_URL set it also starts three instances at once on one empty Postgres
 * schema: all must become ready, and exactly one may apply the migrations.
 *
 * What it cannot prove: the base image (`FROM`) and `USER`; it runs with this machine's Node
 * (CI runs it under Node 24, the image's). Usage: node scripts/dockerfile-dry-run.mjs [--keep]
 */
import { execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = join(dirname(fileURLToPath(import.meta.url)), "..")
const keep = process.argv.includes("--keep")
const work = mkdtempSync(join(tmpdir(), "qwip-dockerfile-"))
const log = (line) => console.log(`[dockerfile] ${line}`)
const fail = (line) => {
  console.error(`[dockerfile] FAILED: ${line}`)
  process.exitCode = 1
  throw new Error(line)
}

// ---- the Dockerfile, parsed into stages ----------------------------------------------------

const instructions = readFileSync(join(root, "Dockerfile"), "utf8")
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l.length > 0 && !l.startsWith("#"))
  .map((l) => {
    const [word, ...rest] = l.split(/\s+/)
    return { word: word.toUpperCase(), args: l.slice(word.length).trim(), parts: rest }
  })

const stages = []
for (const ins of instructions) {
  if (ins.word === "FROM") {
    const name = /\bAS\s+(\S+)/i.exec(ins.args)?.[1] ?? `stage${stages.length}`
    stages.push({ name, image: ins.parts[0], dir: join(work, name), workdir: "/", env: {}, steps: [] })
  } else if (stages.length === 0) fail(`${ins.word} before FROM`)
  else stages[stages.length - 1].steps.push(ins)
}

// ---- the build context: the repository's files, less .dockerignore -------------------------

const ignore = readFileSync(join(root, ".dockerignore"), "utf8")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l.length > 0 && !l.startsWith("#"))
const ignored = (rel) =>
  ignore.some((p) => (p.startsWith("**/") ? rel.split("/").includes(p.slice(3)) : rel === p || rel.startsWith(`${p}/`)))

/** Docker's COPY: a directory's contents into the destination; files into a directory ending in /. */
const copy = (from, fromRoot, to) => {
  const rel = relative(fromRoot, from)
  if (fromRoot === root && rel !== "" && ignored(rel)) return
  if (!existsSync(from)) fail(`COPY: ${from} does not exist`)
  if (statSync(from).isDirectory()) {
    mkdirSync(to, { recursive: true })
    for (const entry of readdirSync(from)) copy(join(from, entry), fromRoot, join(to, entry))
  } else {
    mkdirSync(dirname(to), { recursive: true })
    cpSync(from, to)
  }
}

const within = (stage, path) => join(stage.dir, path.startsWith("/") ? path : join(stage.workdir, path))
const parseEnv = (args) =>
  Object.fromEntries(
    [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)].map((m) => [m[1], m[2].replace(/^"|"$/g, "")])
  )
const execForm = (args) => {
  const at = args.indexOf("[")
  if (at < 0) fail(`expected the exec form ["..."] in: ${args}`)
  return JSON.parse(args.slice(at))
}

let final
for (const stage of stages) {
  log(`stage ${stage.name} (FROM ${stage.image})`)
  mkdirSync(stage.dir, { recursive: true })
  for (const ins of stage.steps) {
    switch (ins.word) {
      case "WORKDIR":
        stage.workdir = ins.args
        mkdirSync(within(stage, "."), { recursive: true })
        break
      case "ENV":
        Object.assign(stage.env, parseEnv(ins.args))
        break
      case "COPY": {
        const parts = ins.parts.filter((p) => !p.startsWith("--"))
        const fromStage = /--from=(\S+)/.exec(ins.args)?.[1]
        const source = fromStage === undefined ? undefined : stages.find((s) => s.name === fromStage)
        if (fromStage !== undefined && source === undefined) fail(`COPY --from=${fromStage}: no such stage`)
        const dest = parts[parts.length - 1]
        for (const src of parts.slice(0, -1)) {
          const from = source === undefined ? join(root, src) : within(source, src)
          const to =
            dest.endsWith("/") && !statSync(from).isDirectory()
              ? join(within(stage, dest), src.split("/").pop())
              : within(stage, dest)
          copy(from, source === undefined ? root : source.dir, to)
        }
        break
      }
      case "RUN":
        log(`RUN ${ins.args}`)
        execFileSync("sh", ["-c", ins.args], {
          cwd: within(stage, "."),
          env: { ...process.env, ...stage.env },
          stdio: ["ignore", "inherit", "inherit"]
        })
        break
      case "CMD":
        stage.cmd = execForm(ins.args)
        break
      case "HEALTHCHECK":
        stage.healthcheck = execForm(ins.args)
        break
      case "USER":
      case "EXPOSE":
        log(`${ins.word} ${ins.args} (not reproduced outside a container)`)
        break
      default:
        fail(`unsupported instruction ${ins.word}`)
    }
  }
  final = stage
}

// ---- the final stage: what production installs, and the service it starts -----------------

const app = within(final, ".")
for (const tool of ["typescript", "vitest", "@biomejs/biome", "@effect/vitest", "@seamapi/fake-seam-connect"]) {
  if (existsSync(join(app, "node_modules", tool))) fail(`the production install holds ${tool}`)
}
log(
  `production install: ${
    execFileSync("du", ["-sh", join(app, "node_modules")])
      .toString()
      .split("\t")[0]
  }`
)

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

const start = async (name, env) => {
  const port = await freePort()
  const child = spawn(final.cmd[0], final.cmd.slice(1), {
    cwd: app,
    env: { ...process.env, ...final.env, ...env, PORT: String(port), LOG_LEVEL: "INFO" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout.on("data", (d) => (output += d))
  child.stderr.on("data", (d) => (output += d))
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })))
  return { name, port, child, exited, output: () => output }
}

const healthy = (instance) =>
  new Promise((resolve) => {
    const probe = spawn(final.healthcheck[0], final.healthcheck.slice(1), {
      env: { ...process.env, ...final.env, PORT: String(instance.port) },
      stdio: "ignore"
    })
    probe.on("exit", (code) => resolve(code === 0))
  })

const waitHealthy = async (instance, seconds = 90) => {
  for (let i = 0; i < seconds * 2; i++) {
    if (await healthy(instance)) return
    if (instance.child.exitCode !== null) fail(`${instance.name} exited:\n${instance.output()}`)
    await new Promise((r) => setTimeout(r, 500))
  }
  fail(`${instance.name}: HEALTHCHECK did not pass in ${seconds} s:\n${instance.output()}`)
}

const stop = async (instance) => {
  instance.child.kill("SIGTERM")
  const timeout = new Promise((resolve) => setTimeout(() => resolve("timeout"), 20_000))
  const result = await Promise.race([instance.exited, timeout])
  if (result === "timeout") {
    instance.child.kill("SIGKILL")
    fail(`${instance.name} did not stop within 20 s of SIGTERM`)
  }
  if (result.code !== 0)
    fail(`${instance.name} exited with ${result.code ?? result.signal} on SIGTERM:\n${instance.output()}`)
}

const instances = []
try {
  const embedded = await start("embedded", { QWIP_DATA_DIR: join(work, "data") })
  instances.push(embedded)
  await waitHealthy(embedded)
  const pods = await (await fetch(`http://127.0.0.1:${embedded.port}/api/pods`)).json()
  if (!Array.isArray(pods.pods) || pods.pods.length === 0) fail(`/api/pods answered ${JSON.stringify(pods)}`)
  const page = await fetch(`http://127.0.0.1:${embedded.port}/`)
  if (page.status !== 200 || !(await page.text()).includes('data-testid="book"')) fail(`GET / answered ${page.status}`)
  await stop(embedded)
  log(`embedded store: ready, ${pods.pods.length} pod(s), stopped cleanly on SIGTERM`)

  const databaseUrl = process.env.QWIP_TEST_DATABASE_URL
  if (databaseUrl === undefined || databaseUrl === "") {
    log("QWIP_TEST_DATABASE_URL is not set: the three-instance Postgres start is not run")
  } else {
    const schema = `qwip_deploy_${randomBytes(5).toString("hex")}`
    const shared = {
      DATABASE_URL: databaseUrl,
      DATABASE_SCHEMA: schema,
      JWT_SECRET_KEY: randomBytes(48).toString("base64url"),
      STATIC_CODE_B64_KEY: randomBytes(32).toString("base64url").padEnd(44, "="),
      QWIP_SEED_DEMO_POD: "true"
    }
    try {
      const three = await Promise.all(
        [1, 2, 3].map((n) => start(`instance ${n}`, { ...shared, QWIP_DATA_DIR: join(work, `data-${n}`) }))
      )
      instances.push(...three)
      await Promise.all(three.map((i) => waitHealthy(i)))
      const appliers = three.filter((i) => i.output().includes("database migrated"))
      if (appliers.length !== 1) fail(`${appliers.length} instances applied migrations; exactly one should`)
      await Promise.all(three.map(stop))
      log(`three instances on one empty schema: all ready, exactly one migrated (${appliers[0].name})`)
    } finally {
      execFileSync("psql", [
        databaseUrl,
        "-qAtc",
        `set client_min_messages = warning; drop schema if exists "${schema}" cascade`
      ])
    }
  }
  log("passed")
} finally {
  for (const i of instances) if (i.child.exitCode === null) i.child.kill("SIGKILL")
  if (!keep) rmSync(work, { recursive: true, force: true })
  else log(`kept ${work}`)
}
