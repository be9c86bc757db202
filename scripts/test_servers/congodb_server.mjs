// Runs CongoDB (from @push.rocks/smartmongo 2.2.0, installed by mongodb.sh setup) on a free
// port of 127.0.0.1 and writes its URI to the file named by the first argument. The entry is
// imported by path because the package's own entry pulls in modules that are not installed.
import { writeFileSync, renameSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const urlFile = process.argv[2];
const entry = process.env.CONGODB_ENTRY;
if (!urlFile || !entry) {
  console.error('usage: CONGODB_ENTRY=.../congodb/index.js node congodb_server.mjs URL_FILE');
  process.exit(2);
}

const { CongoServer } = await import(pathToFileURL(entry).href);
// CONGODB_PORT and CONGODB_PERSIST (a file the data is saved to on stop and loaded from on
// start) let a test stop the server and start it again on the same port with its data.
const options = { host: '127.0.0.1', port: Number(process.env.CONGODB_PORT ?? 0) };
if (process.env.CONGODB_PERSIST) {
  options.storage = 'memory';
  options.persistPath = process.env.CONGODB_PERSIST;
}
const server = new CongoServer(options);
await server.start();
// CongoServer reports the port it was given; port 0 asks the kernel for a free one, which only
// the listening socket knows.
const port = server.server.address().port;
// Written whole, then renamed, so that a reader never sees a partial URI.
writeFileSync(urlFile + '.tmp', `mongodb://127.0.0.1:${port}/kagura\n`);
renameSync(urlFile + '.tmp', urlFile);

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
