// Child process of the cdc benchmark: the connector's change stream alone over the backlog (decoded
// into changes with exact values, nothing mapped or written), until the last marker's insert;
// reports seconds and the process's CPU. Beside the drain, it splits a change's cost between
// reading it and writing it.
import { withConnector } from "../../server/sources/connectivity.ts";
import { requireCapability } from "../../server/connectors/types.ts";

const [sourceId, from, entity, markerId] = process.argv.slice(2) as [string, string, string, string];
const result = await withConnector(sourceId, async (connector) => {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const stream = await requireCapability(connector, "openChanges", "stream changes").openChanges([entity], from);
  let read = 0;
  try {
    for await (const changes of stream) {
      let marker = false;
      for (const change of changes) {
        if (change.kind !== "insert" && change.kind !== "update" && change.kind !== "delete") continue;
        read++;
        if (change.kind === "insert" && String(change.row.id) === markerId) marker = true;
      }
      if (marker) break;
    }
  } finally {
    await stream.close();
  }
  const cpu = process.cpuUsage(cpu0);
  return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, read, cpu_s: (cpu.user + cpu.system) / 1e6 };
});
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
