// gray-matter calls Buffer.from(text) on every parse (to keep an `orig` copy we never read).
// Obsidian mobile has no Buffer: fall back to a UTF-8 byte array there.
export const Buffer =
  globalThis.Buffer ?? {
    from: (s) => new TextEncoder().encode(String(s)),
    isBuffer: () => false,
  };
