// The Mizual API as the page uses it: every failure becomes an ApiError whose message is a
// sentence a person can act on.

export class ApiError extends Error {
  constructor(message, { status = 0, code = "", retryAfter = 0 } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter; // seconds to wait, for 429
  }
}

const FIELD_PREFIX = /^(image|prompt|parent_edit_uuid|edit_uuid|feedback_text|rating): /;

/** The server's detail as a sentence: no field prefix, a capital letter, a full stop. */
export function sentence(text) {
  let result = String(text ?? "").trim().replace(FIELD_PREFIX, "");
  if (!result) return "";
  result = result[0].toUpperCase() + result.slice(1);
  return /[.!?…]$/.test(result) ? result : `${result}.`;
}

export function describeWait(seconds) {
  if (seconds < 90) return `${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `${minutes} minutes`;
  return `${Math.ceil(minutes / 60)} hours`;
}

export function describeBytes(size) {
  if (size >= 1024 * 1024) return `${(size / 1024 / 1024).toFixed(1)} MiB`;
  if (size >= 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${size} bytes`;
}

const NETWORK_TROUBLE =
  "Could not reach the Mizual server. Check that it is running and your connection works, then try again.";

async function errorFrom(response) {
  let body = {};
  try {
    body = await response.json();
  } catch {
    // not JSON: a proxy's page, say
  }
  const status = response.status;
  const detail = sentence(typeof body.detail === "string" ? body.detail : "");
  const code = typeof body.error === "string" ? body.error : "";
  if (status === 429) {
    const retryAfter = Math.max(1, parseInt(response.headers.get("Retry-After") ?? "", 10) || 0);
    let message = detail || "Too many requests.";
    if (!/try again in/i.test(message)) message += ` Try again in ${describeWait(retryAfter)}.`;
    return new ApiError(message, { status, code, retryAfter });
  }
  if (status === 413) {
    return new ApiError(detail || "The image is too large for this server. Compress or downscale it and try again.", { status, code });
  }
  if (status === 415) {
    return new ApiError(detail || "This file is not an image format Mizual can edit. Send a JPEG, PNG, WebP, BMP or TIFF image.", { status, code });
  }
  if (status >= 500) {
    const id = body.request_id ? ` (request id ${body.request_id})` : "";
    return new ApiError(`Something went wrong on the server${id}. Please try again in a moment.`, { status, code });
  }
  return new ApiError(detail || `The request failed (HTTP ${status}).`, { status, code });
}

async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", ...options });
  } catch {
    throw new ApiError(NETWORK_TROUBLE);
  }
  if (!response.ok) throw await errorFrom(response);
  try {
    return await response.json();
  } catch {
    throw new ApiError("The server sent an answer this page cannot read. Please try again.", { status: response.status });
  }
}

function postJson(path, body) {
  return request(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** POST /edit-image/ → {edit_id, polling_url, edit_token}. `image` is a File (or Blob), sent
 * as it is in a multipart/form-data form (not a third larger as base64), or omitted with a
 * parent. The browser writes the form's Content-Type, boundary included. */
export function submitEdit({ prompt, image, parentEditUuid }) {
  const form = new FormData();
  form.append("prompt", prompt);
  if (image) form.append("image", image, image.name || "image");
  if (parentEditUuid) form.append("parent_edit_uuid", parentEditUuid);
  return request("/edit-image/", { method: "POST", body: form });
}

export function editStatus(editId) {
  return request(`/edit/${encodeURIComponent(editId)}`);
}

export function editChain(editId) {
  return request(`/chain/${encodeURIComponent(editId)}`);
}

export function sendFeedback({ editUuid, rating, text }) {
  return postJson("/feedback/", { edit_uuid: editUuid, rating, feedback_text: text || null });
}

/** POST /edit/{uuid}/cancel with the edit's token → the cancelled edit's status view. */
export function cancelEdit(editId, token) {
  return request(`/edit/${encodeURIComponent(editId)}/cancel`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
}

export function eventsUrl(editId) {
  return `/edit/${encodeURIComponent(editId)}/events`;
}

/** Processing has stopped, one way or the other. `is_complete` alone means this on servers that
 * follow the reference; older ones set it only on success, hence `is_error` as well. */
export const isFinished = (view) => Boolean(view.is_complete || view.is_error);

/** The edit has a result to show. Never `is_complete` alone: a failed edit is complete too. */
export const hasSucceeded = (view) => view.status === "completed" && !view.is_error;

export const hasFailed = (view) => Boolean(view.is_error) || view.status === "failed";

/** Stopped on request: complete, not an error, and without a result. */
export const wasCancelled = (view) => view.status === "cancelled";

/** The one spelling of an edit id the server accepts (8-4-4-4-12 hexadecimal digits). */
export const EDIT_ID = /^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$/i;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Follows an edit until it completes or fails, calling onStatus(view) with every state seen
 * (the JSON of GET /edit/{uuid}). Uses the event stream when the browser and the server offer
 * it, and polls GET /edit/{uuid} every second otherwise, or as soon as the stream fails.
 * onTransport(name) says which: "events" or "polling". Returns a function that stops following.
 */
export function followEdit(editId, { onStatus, onTransport, onTrouble, pollMs = 1000 }) {
  let stopped = false;
  let finished = false;
  let source = null;
  let watchdog = 0;

  const deliver = (view) => {
    if (stopped || finished) return;
    if (isFinished(view)) {
      finished = true;
      stop();
    }
    onStatus(view);
  };

  const stop = () => {
    stopped = true;
    clearTimeout(watchdog);
    if (source) source.close();
  };

  const poll = async () => {
    onTransport("polling");
    while (!stopped) {
      try {
        deliver(await editStatus(editId));
        if (stopped) return;
        await sleep(pollMs);
      } catch (error) {
        if (stopped) return;
        if (error.status === 429) {
          onTrouble?.(`Checking on the edit too often; the next check is in ${describeWait(error.retryAfter)}.`);
          await sleep(error.retryAfter * 1000);
        } else if (error.status === 0) {
          onTrouble?.("Lost touch with the server; trying again…");
          await sleep(2 * pollMs);
        } else {
          stop();
          onTrouble?.(error.message, { fatal: true });
          return;
        }
      }
    }
  };

  const fallBack = () => {
    if (stopped || !source) return;
    clearTimeout(watchdog);
    source.close();
    source = null;
    poll();
  };

  if (typeof window.EventSource !== "function") {
    poll();
  } else {
    source = new EventSource(eventsUrl(editId));
    // The stream sends the current state at once; silence means it is not there or is held up.
    watchdog = setTimeout(fallBack, 5000);
    const onEvent = (event) => {
      clearTimeout(watchdog);
      let view;
      try {
        view = JSON.parse(event.data);
      } catch {
        fallBack();
        return;
      }
      deliver(view);
    };
    source.addEventListener("open", () => onTransport("events"));
    source.addEventListener("status", onEvent);
    source.addEventListener("done", onEvent);
    // A missing endpoint (404), a refusal (429) or a broken connection: poll instead.
    source.addEventListener("error", fallBack);
  }
  return stop;
}
