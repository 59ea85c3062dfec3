// The edit tokens of the edits this browser submitted: the secret that lets their submitter
// cancel them. Kept in localStorage, so a reload (or the same edit's address in another tab)
// can still offer "Cancel edit"; only the newest MAX_TOKENS are kept, since an older edit has
// long finished and could not be cancelled anyway.

const STORAGE_KEY = "mizual.editTokens";
const MAX_TOKENS = 200;

/** [[edit id, token], …], oldest first. Storage may be off (a private window, a full quota, a
 * damaged entry): then no token is known, and the page simply offers no Cancel button. */
function readAll() {
  try {
    const entries = JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "[]");
    if (!Array.isArray(entries)) return [];
    return entries.filter(
      (entry) => Array.isArray(entry) && typeof entry[0] === "string" && typeof entry[1] === "string",
    );
  } catch {
    return [];
  }
}

function writeAll(entries) {
  try {
    window.localStorage.setItem(STORAGE_KEY, JSON.stringify(entries.slice(-MAX_TOKENS)));
  } catch {
    // Not kept: the edit goes on, it just cannot be cancelled from another visit.
  }
}

export function rememberToken(editId, token) {
  if (typeof token !== "string" || !token) return; // a server older than cancelling sends none
  const entries = readAll().filter(([id]) => id !== editId);
  entries.push([editId, token]);
  writeAll(entries);
}

export function tokenFor(editId) {
  return readAll().find(([id]) => id === editId)?.[1] ?? null;
}

/** Once an edit has finished its token can do nothing more. */
export function forgetToken(editId) {
  const entries = readAll();
  const kept = entries.filter(([id]) => id !== editId);
  if (kept.length !== entries.length) writeAll(kept);
}
