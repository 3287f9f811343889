/**
 * `@temporalio/worker` loads its workflow bundler's in-memory file system (memfs, 40–80 ms of a worker's start) even
 * when the worker is given a prebuilt bundle and never bundles. Imported before the SDK, this leaves a stand-in for
 * memfs in Node's module cache that loads the real module at its first use: only a worker that bundles the workflow
 * sources (no `npm run build`) ever uses it. test/cli/startup.test.ts checks that `ech-remote worker` does not load it.
 */
import Module from 'node:module';

/** Defer loading `id` as resolved from `fromFile` until a property of its exports is first read. */
export function deferModule(id: string, fromFile: string): void {
  const load = Module.createRequire(fromFile);
  let file: string;
  try {
    file = load.resolve(id);
  } catch {
    return; // not installed here: the SDK will say so when it needs it
  }
  if (require.cache[file]) return;
  let real: object | undefined;
  const target = (): object => {
    if (!real) {
      delete require.cache[file];
      real = load(id) as object;
    }
    return real;
  };
  const stand = new Module(file);
  stand.filename = file;
  stand.loaded = true;
  // `__esModule` answered without loading: TypeScript's `__importStar` then keeps this object as it is instead of
  // copying every export (which would load the module at once). memfs is compiled TypeScript: it says the same.
  stand.exports = new Proxy(
    {},
    {
      get: (_, key) => (key === '__esModule' ? true : Reflect.get(target(), key)),
      has: (_, key) => Reflect.has(target(), key),
      ownKeys: () => Reflect.ownKeys(target()),
      getOwnPropertyDescriptor: (_, key) => {
        const d = Reflect.getOwnPropertyDescriptor(target(), key);
        return d && { ...d, configurable: true };
      },
    },
  );
  require.cache[file] = stand;
}

deferModule('memfs', require.resolve('@temporalio/worker'));
