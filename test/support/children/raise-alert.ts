// Raises one alert in a process of its own and exits at once, for the outbox test: whatever
// delivery this process started dies with it; the alert must still reach the webhook.
import { alert } from "../../../server/alerts/service.ts";

const [message] = process.argv.slice(2) as [string];
const row = await alert({ sourceId: null, category: "FATAL", message, hint: "raised by a process that exited" });
process.stdout.write(`${row?.id ?? ""}\n`);
process.exit(0);
