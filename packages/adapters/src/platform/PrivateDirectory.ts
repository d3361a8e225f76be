/**
 * The local data directory (`QWIP_DATA_DIR`) holds the embedded database (door codes in its
 * write-ahead log), generated keys and checkout photos: only the service's own user may read
 * or change any of it. PGlite writes its files 0666 whatever the umask, so the guarantee is
 * the directory's mode (0700, which no other user can pass), with group and other bits also
 * taken off whatever is already inside.
 */
import { chmod, mkdir, readdir } from "node:fs/promises"
import { join } from "node:path"

const PRIVATE_DIRECTORY = 0o700
const PRIVATE_FILE = 0o600

/** Creates `dir` (and missing parents) 0700, or tightens an existing one to 0700. */
export const makePrivateDirectory = async (dir: string): Promise<void> => {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIRECTORY })
  await chmod(dir, PRIVATE_DIRECTORY)
}

/**
 * `makePrivateDirectory`, then takes group and other permissions off everything below it
 * (left by an older build, a copied backup, or a file PGlite created).
 */
export const makePrivateTree = async (dir: string): Promise<void> => {
  await makePrivateDirectory(dir)
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  await Promise.all(
    entries
      .filter((entry) => entry.isDirectory() || entry.isFile())
      .map(async (entry) => {
        const path = join(entry.parentPath, entry.name)
        await chmod(path, entry.isDirectory() ? PRIVATE_DIRECTORY : PRIVATE_FILE)
      })
  )
}
