// tiergate as its own process (`node … server.ts`), on a port the test picks: the tests of how
// it is started (npm start's flags, .env, the image's files) cannot let it listen on port 0.
//
// Between freePort() and the child's bind, another test file running at the same time may take
// that port (CI once timed out waiting for a server that had exited at once). A child that
// exits with EADDRINUSE is started again on another port; any other exit fails at once, with
// everything the child printed.
import { spawn, type ChildProcess } from 'node:child_process'
import { freePort } from '../mocks/server.ts'

const START_TIMEOUT_MS = 15_000
const PORT_TRIES = 3

export interface ServerProcess {
  child: ChildProcess
  port: number
  output(): string
  /** Resolves with the exit code once the child has exited. */
  exited: Promise<number | null>
}

export interface ServerLaunch {
  args: string[]
  cwd: string
  /** The environment for a given port (the test decides where the port goes: env, or a .env file it writes). */
  env(port: number): Record<string, string>
  /** Where ports come from (freePort; the helper's own test hands out a taken one first). */
  pickPort?: () => Promise<number>
}

async function startOn(port: number, launch: ServerLaunch): Promise<ServerProcess | 'port_taken'> {
  const child = spawn(process.execPath, launch.args, { cwd: launch.cwd, env: launch.env(port), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d) => { output += d })
  child.stderr!.on('data', (d) => { output += d })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  // Listening is what the child itself says (its start summary), not a /health answer: on a
  // port someone else took, the answer would be theirs.
  const listening = `is listening on http://127.0.0.1:${port} `
  const deadline = Date.now() + START_TIMEOUT_MS
  while (child.exitCode === null && child.signalCode === null) {
    if (output.includes(listening)) return { child, port, output: () => output, exited }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`tiergate did not say it was listening on port ${port} within ${START_TIMEOUT_MS} ms:\n${output}`)
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  await exited
  if (/EADDRINUSE/.test(output)) return 'port_taken'
  throw new Error(`tiergate exited (code ${child.exitCode}, signal ${child.signalCode}) before answering /health:\n${output}`)
}

/** Starts tiergate on a free port and waits until it listens there; the caller stops it. */
export async function startServerProcess(launch: ServerLaunch): Promise<ServerProcess> {
  for (let attempt = 1; ; attempt++) {
    const started = await startOn(await (launch.pickPort ?? freePort)(), launch)
    if (started !== 'port_taken') return started
    if (attempt === PORT_TRIES) throw new Error(`every free port picked (${PORT_TRIES}) was taken before tiergate could bind it`)
  }
}
