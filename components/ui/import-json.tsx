"use client";
// "Import a file…": a button-styled file picker for JSON documents (configs, mappings); hands the
// file's text to the caller and can be used again with the same file.
export function ImportJsonButton({ disabled, onText }: { disabled: boolean; onText: (text: string) => void }) {
  return (
    <label
      className={`inline-flex h-8 cursor-pointer items-center rounded-md border border-line px-3 text-[13px] focus-within:ring-2 focus-within:ring-accent ${disabled ? "pointer-events-none opacity-50" : "hover:bg-zinc-50"}`}
    >
      Import a file…
      <input
        type="file"
        accept="application/json,.json"
        className="sr-only"
        disabled={disabled}
        onChange={(e) => {
          const input = e.currentTarget;
          const file = input.files?.[0];
          if (file) void file.text().then(onText).finally(() => (input.value = ""));
        }}
      />
    </label>
  );
}
