/** Saves text as a JSON file through the browser's download (exports of configs and mappings). */
export function downloadJson(filename: string, text: string) {
  const url = URL.createObjectURL(new Blob([text.endsWith("\n") ? text : `${text}\n`], { type: "application/json" }));
  Object.assign(document.createElement("a"), { href: url, download: filename }).click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000); // some browsers start the download after click() returns
}
