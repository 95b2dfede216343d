// What `npm start` runs as its children, recognised again by their command line: after a start
// killed outright, a pid in its children file is stopped only if it still runs one of these (the
// pid may have been reused by something else meanwhile).

/** Whether a process's command line (/proc/<pid>/cmdline) is the console or a worker `npm start` ran. */
export const isProductChild = (cmdline: string) => /next|web-server\.ts|worker\/main\.(ts|mjs)/.test(cmdline);
