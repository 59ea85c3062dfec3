// The Mizual web page: choose or drop an image, say what to change, follow the edit (or cancel
// it), compare, download, chain further edits and rate them. Plain DOM, no framework, no build
// step.
// The address names the edit shown (/?edit=<uuid>), so a reload or a shared link shows it again.

import {
  EDIT_ID,
  cancelEdit,
  describeBytes,
  describeWait,
  editChain,
  editStatus,
  followEdit,
  hasFailed,
  hasSucceeded,
  isFinished,
  sendFeedback,
  submitEdit,
  wasCancelled,
} from "./api.js";
import { forgetToken, rememberToken, tokenFor } from "./tokens.js";

const $ = (id) => document.getElementById(id);

const els = {
  pageNotice: $("page-notice"),
  form: $("edit-form"),
  dropzone: $("dropzone"),
  input: $("image-input"),
  preview: $("preview"),
  previewImage: $("preview-image"),
  previewCaption: $("preview-caption"),
  sourceNew: $("source-new"),
  sourceChain: $("source-chain"),
  chainSourceImage: $("chain-source-image"),
  chainSourceText: $("chain-source-text"),
  newImageButton: $("new-image-button"),
  prompt: $("prompt"),
  formError: $("form-error"),
  submit: $("submit-button"),
  progressSection: $("progress-section"),
  progressTitle: $("progress-title"),
  progressBar: $("progress-bar"),
  progressMessage: $("progress-message"),
  progressPercent: $("progress-percent"),
  editError: $("edit-error"),
  cancelActions: $("cancel-actions"),
  cancelButton: $("cancel-button"),
  cancelError: $("cancel-error"),
  resultSection: $("result-section"),
  resultTitle: $("result-title"),
  resultPrompt: $("result-prompt"),
  sliderRadio: $("slider-radio"),
  sliderNote: $("slider-note"),
  sideView: $("side-view"),
  sliderView: $("slider-view"),
  sliderFrame: $("slider-frame"),
  before: $("before-image"),
  after: $("after-image"),
  sliderBefore: $("slider-before"),
  sliderAfter: $("slider-after"),
  slider: $("compare-slider"),
  download: $("download-link"),
  chainButton: $("chain-button"),
  feedbackForm: $("feedback-form"),
  feedbackText: $("feedback-text"),
  feedbackStatus: $("feedback-status"),
  thumbsUp: $("thumbs-up"),
  thumbsDown: $("thumbs-down"),
  chainSection: $("chain-section"),
  chainStrip: $("chain-strip"),
};

const SUBMIT_LABEL = els.submit.textContent;
const CANCEL_LABEL = els.cancelButton.textContent;
const maxUploadBytes = parseInt(
  document.querySelector('meta[name="mizual-max-upload-bytes"]')?.content ?? "",
  10,
);

const state = {
  file: null, // the chosen File, for a new chain
  previewUrl: null,
  parent: null, // the edit whose result the next edit starts from (its status view)
  shown: null, // the edit shown in the result section (its status view)
  current: null, // the uuid of the edit the page is about, as in its address
  following: null, // the uuid of the edit being followed to its end, if any
  stopFollowing: null,
  busy: false,
  waitTimer: 0,
  rated: new Map(), // edit uuid → the confirmation shown after rating it
  chain: [], // status views of the chain shown in the strip
};

// ---------------------------------------------------------------- messages

function showFormError(message) {
  els.formError.textContent = message;
  els.formError.hidden = !message;
}

function showCancelError(message) {
  els.cancelError.textContent = message;
  els.cancelError.hidden = !message;
}

function showPageNotice(message) {
  els.pageNotice.textContent = message;
  els.pageNotice.hidden = !message;
}

/** The edit the page is about becomes `editId` (null: none), in the address too. The address is
 * replaced rather than pushed: Back leaves the page, as for any tool, instead of replaying every
 * thumbnail chosen. */
function setCurrent(editId) {
  state.current = editId;
  const url = new URL(window.location.href);
  if (editId) url.searchParams.set("edit", editId);
  else url.searchParams.delete("edit");
  if (url.href !== window.location.href) window.history.replaceState(null, "", url);
  markCurrentThumbnail();
}

function setBusy(busy) {
  state.busy = busy;
  els.submit.disabled = busy || Boolean(state.waitTimer);
  els.submit.setAttribute("aria-busy", String(busy));
  els.chainButton.disabled = busy;
}

/** After a 429: the submit button counts down, then comes back. */
function holdSubmit(seconds) {
  clearInterval(state.waitTimer);
  let left = seconds;
  const tick = () => {
    if (left <= 0) {
      clearInterval(state.waitTimer);
      state.waitTimer = 0;
      els.submit.textContent = SUBMIT_LABEL;
      els.submit.disabled = state.busy;
      return;
    }
    els.submit.textContent = `Wait ${describeWait(left)}`;
    left -= 1;
  };
  state.waitTimer = setInterval(tick, 1000);
  tick();
  els.submit.disabled = true;
}

// ---------------------------------------------------------------- choosing an image

function chooseFile(file) {
  showFormError("");
  if (!file) return;
  if (state.previewUrl) URL.revokeObjectURL(state.previewUrl);
  state.file = file;
  state.previewUrl = URL.createObjectURL(file);
  els.previewImage.hidden = false;
  els.previewImage.src = state.previewUrl;
  els.previewCaption.textContent = `${file.name || "Pasted image"} · ${describeBytes(file.size)}`;
  els.preview.hidden = false;
  const problem = fileProblem(file);
  if (problem) showFormError(problem);
}

/** What is certainly wrong with the file before sending it; the server judges the rest. */
function fileProblem(file) {
  if (file.size === 0) return "This file is empty. Choose an image file.";
  if (Number.isFinite(maxUploadBytes) && file.size > maxUploadBytes) {
    return (
      `This image is ${describeBytes(file.size)}, and this server accepts at most ` +
      `${describeBytes(maxUploadBytes)}. Compress or downscale it and try again.`
    );
  }
  return "";
}

els.previewImage.addEventListener("error", () => {
  if (!state.file) return;
  els.previewImage.hidden = true;
  els.previewCaption.textContent =
    `${state.file.name} · ${describeBytes(state.file.size)} — this browser cannot show a ` +
    "preview of it; the server will check it when you send it.";
});

els.input.addEventListener("change", () => chooseFile(els.input.files?.[0]));

for (const name of ["dragenter", "dragover"]) {
  els.dropzone.addEventListener(name, (event) => {
    event.preventDefault();
    els.dropzone.classList.add("dragging");
  });
}
for (const name of ["dragleave", "drop"]) {
  els.dropzone.addEventListener(name, () => els.dropzone.classList.remove("dragging"));
}
els.dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  const file = event.dataTransfer?.files?.[0];
  if (file) {
    useNewImage();
    chooseFile(file);
  }
});
// A file dropped anywhere else on the page counts too, rather than the browser opening it.
document.addEventListener("dragover", (event) => event.preventDefault());
document.addEventListener("drop", (event) => {
  if (event.defaultPrevented) return; // the drop zone took it
  event.preventDefault();
  const file = event.dataTransfer?.files?.[0];
  if (file) {
    useNewImage();
    chooseFile(file);
  }
});
// A pasted image works too (Ctrl+V anywhere outside a text box).
document.addEventListener("paste", (event) => {
  if (event.target instanceof HTMLTextAreaElement) return;
  const file = [...(event.clipboardData?.files ?? [])].find((f) => f.type.startsWith("image/"));
  if (file) {
    useNewImage();
    chooseFile(file);
  }
});

// ---------------------------------------------------------------- chaining

function useNewImage() {
  state.parent = null;
  els.sourceChain.hidden = true;
  els.sourceNew.hidden = false;
}

/** The next edit starts from this edit's result. `fresh`: the person asked for it, so the
 * prompt is cleared and focused for the next instruction. */
function continueFrom(view, { fresh = true } = {}) {
  state.parent = view;
  els.chainSourceImage.src = view.edited_image_url;
  const step = view.chain_position ?? 1;
  els.chainSourceText.textContent = `Your next edit starts from the result of step ${step} (“${view.prompt}”).`;
  els.sourceNew.hidden = true;
  els.sourceChain.hidden = false;
  if (fresh) {
    showFormError("");
    els.prompt.value = "";
    els.prompt.focus();
  }
}

/** After a reload, the form goes on as it did: from the newest result of a chain of several
 * steps; a single edit's image is gone with the page, so a new image (or "Edit this result"). */
function resumeChain(chain) {
  if (chain.length < 2 || state.parent || state.file) return;
  const newest = chain.findLast(hasSucceeded);
  if (newest) continueFrom(newest, { fresh: false });
}

els.chainButton.addEventListener("click", () => {
  if (state.shown && hasSucceeded(state.shown)) continueFrom(state.shown);
});
els.newImageButton.addEventListener("click", () => {
  useNewImage();
  els.input.focus();
});

// ---------------------------------------------------------------- prompt

for (const chip of document.querySelectorAll(".chip")) {
  chip.addEventListener("click", () => {
    els.prompt.value = chip.dataset.prompt;
    els.prompt.focus();
  });
}
els.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    els.form.requestSubmit();
  }
});

// ---------------------------------------------------------------- submitting and following

els.form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (state.busy || state.waitTimer) return;
  showFormError("");
  const prompt = els.prompt.value.trim();
  if (!prompt) {
    showFormError("Type what should change, for example “make it black and white”.");
    els.prompt.focus();
    return;
  }
  const parent = state.parent;
  if (!parent && !state.file) {
    showFormError("Choose or drop an image first.");
    els.input.focus();
    return;
  }
  const problem = parent ? "" : fileProblem(state.file);
  if (problem) {
    showFormError(problem);
    return;
  }

  state.stopFollowing?.();
  state.following = null;
  showPageNotice("");
  showCancelError("");
  setBusy(true);
  showProgress({
    progress_percent: 0,
    message: parent ? "Sending your request…" : "Uploading your image…",
    processing_stage: "uploading",
  });
  // On a phone the progress is below the form: bring it into view.
  els.progressSection.scrollIntoView({ block: "nearest" });
  try {
    const image = parent ? undefined : state.file;
    const created = await submitEdit({ prompt, image, parentEditUuid: parent?.uuid });
    rememberToken(created.edit_id, created.edit_token);
    follow(created.edit_id);
  } catch (error) {
    setBusy(false);
    els.progressSection.hidden = true;
    showFormError(error.message);
    if (error.retryAfter) holdSubmit(error.retryAfter);
  }
});

function showProgress(view) {
  const failed = hasFailed(view);
  const cancelled = wasCancelled(view);
  els.progressSection.hidden = false;
  els.progressSection.classList.toggle("failed", failed);
  els.progressSection.classList.toggle("cancelled", cancelled);
  els.progressSection.dataset.stage = view.processing_stage ?? "";
  // A cancelled edit's bar stays where it stopped (the server says 100%: processing is over).
  if (!cancelled) els.progressBar.value = view.progress_percent ?? 0;
  els.progressPercent.textContent = cancelled ? "" : `${view.progress_percent ?? 0}%`;
  // A failure's message is a paragraph; it goes to the alert below, the status line stays short.
  els.progressMessage.textContent = failed ? "The edit stopped." : view.message;
  els.editError.textContent = failed ? `The edit failed: ${view.message}` : "";
  els.editError.hidden = !failed;
  offerCancel(view);
}

/** "Cancel edit" while the edit shown is unfinished and this browser submitted it (it holds
 * its token); a finished edit's token can do nothing more, so it is dropped. */
function offerCancel(view) {
  if (view.uuid && isFinished(view)) forgetToken(view.uuid);
  const offered = Boolean(view.uuid) && !isFinished(view) && tokenFor(view.uuid) !== null;
  els.cancelActions.hidden = !offered;
}

els.cancelButton.addEventListener("click", async () => {
  const editId = els.progressSection.dataset.edit;
  const token = editId ? tokenFor(editId) : null;
  if (!token || els.cancelButton.disabled) return;
  showCancelError("");
  els.cancelButton.disabled = true;
  els.cancelButton.textContent = "Cancelling…";
  try {
    const view = await cancelEdit(editId, token);
    // The event stream may have brought the cancelled state first: then it is shown already.
    if (state.following === editId && isFinished(view)) {
      state.stopFollowing?.();
      showProgress(view);
      finish(view);
    }
    // The button is gone: keep the keyboard's place in the same section.
    els.progressTitle.focus();
  } catch (error) {
    // 409: it finished meanwhile, and the event stream is about to show how.
    if (els.progressSection.dataset.edit === editId) {
      showCancelError(`The edit could not be cancelled: ${error.message}`);
    }
    if (error.status === 401 || error.status === 403) {
      forgetToken(editId);
      els.cancelActions.hidden = true;
    }
  } finally {
    els.cancelButton.disabled = false;
    els.cancelButton.textContent = CANCEL_LABEL;
  }
});

/** Follows an edit to its end. `resume`: the page was opened on it, so once its chain is
 * known the form goes on as before the reload. */
function follow(editId, { resume = false } = {}) {
  els.progressSection.dataset.edit = editId;
  showCancelError("");
  setCurrent(editId);
  state.following = editId;
  state.stopFollowing = followEdit(editId, {
    onTransport: (name) => {
      els.progressSection.dataset.transport = name;
    },
    onStatus: (view) => {
      showProgress(view);
      if (isFinished(view)) finish(view, { resume });
    },
    onTrouble: (message, { fatal = false } = {}) => {
      if (fatal) {
        setBusy(false);
        showFormError(message);
      } else {
        els.progressMessage.textContent = message;
      }
    },
  });
}

/** The edit followed has completed, failed or been cancelled. */
function finish(view, { resume = false } = {}) {
  state.following = null;
  setBusy(false);
  // The person may have chosen another step meanwhile; the newest edit is shown now.
  setCurrent(view.uuid);
  if (hasSucceeded(view)) {
    showResult(view);
    // Within a chain, the next edit goes on from the newest result.
    if (state.parent) continueFrom(view, { fresh: false });
  } else {
    // Nothing to compare, download, continue from or rate.
    hideResult();
    (wasCancelled(view) ? els.progressSection : els.editError).scrollIntoView({ block: "nearest" });
  }
  // A lone failed or cancelled edit has no chain worth a request.
  if (hasSucceeded(view) || view.parent_edit_uuid) {
    loadChain(view.uuid).then((chain) => chain && resume && resumeChain(chain));
  }
}

// ---------------------------------------------------------------- the result

function extensionOf(url) {
  const match = /\.(jpe?g|png|webp)(?:$|\?)/i.exec(url);
  return match ? match[1].toLowerCase() : "jpg";
}

/** A failed or cancelled edit has no result: nothing to compare, download, continue from or
 * rate. */
function hideResult() {
  state.shown = null;
  els.resultSection.hidden = true;
}

/** Shows an edit that is not being followed (a chosen step, or the one in the address): its
 * state in the progress section, and its result if it has one. */
function showEdit(view) {
  els.progressSection.dataset.edit = view.uuid;
  showCancelError("");
  showProgress(view);
  if (hasSucceeded(view)) showResult(view);
  else hideResult();
  setCurrent(view.uuid);
}

function showResult(view) {
  state.shown = view;
  els.resultSection.hidden = false;
  els.resultPrompt.textContent = `Step ${view.chain_position ?? 1}: “${view.prompt}”`;
  els.before.src = view.original_image_url;
  els.after.src = view.edited_image_url;
  els.sliderBefore.src = view.original_image_url;
  els.sliderAfter.src = view.edited_image_url;
  els.after.alt = `The image after “${view.prompt}”`;
  els.download.href = view.edited_image_url;
  els.download.download = `mizual-${view.uuid.slice(0, 8)}.${extensionOf(view.edited_image_url)}`;
  els.chainButton.disabled = false;
  updateSliderAvailability();
  showFeedbackState();
  markCurrentThumbnail();
}

/** The slider overlays the two images, which only makes sense when their shapes match. */
function updateSliderAvailability() {
  const { before, after } = els;
  if (!before.complete || !after.complete || !before.naturalWidth || !after.naturalWidth) {
    return;
  }
  const ratio = (img) => img.naturalWidth / img.naturalHeight;
  const same = Math.abs(ratio(before) - ratio(after)) < 0.01;
  els.sliderRadio.disabled = !same;
  els.sliderNote.hidden = same;
  if (!same && els.sliderRadio.checked) {
    document.querySelector('input[name="view"][value="side"]').checked = true;
    applyView();
  }
  els.sliderFrame.style.aspectRatio = `${before.naturalWidth} / ${before.naturalHeight}`;
}
els.before.addEventListener("load", updateSliderAvailability);
els.after.addEventListener("load", updateSliderAvailability);

function applyView() {
  const slider = document.querySelector('input[name="view"]:checked')?.value === "slider";
  els.sliderView.hidden = !slider;
  els.sideView.hidden = slider;
}
for (const radio of document.querySelectorAll('input[name="view"]')) {
  radio.addEventListener("change", applyView);
}

function applySlider() {
  els.sliderFrame.style.setProperty("--split", `${els.slider.value}%`);
  els.slider.setAttribute("aria-valuetext", `${els.slider.value}% before, ${100 - els.slider.value}% after`);
}
els.slider.addEventListener("input", applySlider);
applySlider();

// Dragging on the picture moves the divider too.
els.sliderFrame.addEventListener("pointerdown", (event) => {
  const move = (e) => {
    const box = els.sliderFrame.getBoundingClientRect();
    els.slider.value = String(Math.round(((e.clientX - box.left) / box.width) * 100));
    applySlider();
  };
  move(event);
  els.sliderFrame.setPointerCapture(event.pointerId);
  els.sliderFrame.addEventListener("pointermove", move);
  els.sliderFrame.addEventListener(
    "pointerup",
    () => els.sliderFrame.removeEventListener("pointermove", move),
    { once: true },
  );
});

// ---------------------------------------------------------------- the chain strip

/** The strip for the chain through this edit; its status views, or null if it failed. */
async function loadChain(editId) {
  let chain;
  try {
    chain = await editChain(editId);
  } catch (error) {
    if (state.current !== editId) return null;
    els.chainSection.hidden = false;
    els.chainStrip.replaceChildren();
    const note = document.createElement("li");
    note.className = "hint";
    note.textContent = `The chain could not be shown: ${error.message}`;
    els.chainStrip.append(note);
    return null;
  }
  state.chain = chain.chain_history.map((entry) => entry.edit);
  renderChain();
  return state.chain;
}

/** A step chosen in the strip. While an edit is being followed, only results are shown, in the
 * result section; the progress section stays with the edit under way. */
function chooseStep(view) {
  if (state.busy) {
    if (hasSucceeded(view)) {
      showResult(view);
      setCurrent(view.uuid);
    }
  } else if (isFinished(view)) {
    showEdit(view);
  } else {
    setBusy(true);
    follow(view.uuid);
  }
}

function renderChain() {
  const items = state.chain.map((view) => {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "thumb";
    button.dataset.uuid = view.uuid;
    button.dataset.status = view.status;
    // A step without a result says why.
    const expired = view.status === "expired";
    const stopped =
      (hasFailed(view) && " (failed)") ||
      (wasCancelled(view) && " (cancelled)") ||
      (expired && " (images removed)") ||
      "";
    button.setAttribute("aria-label", `Step ${view.chain_position}: ${view.prompt}${stopped}`);
    button.title = `${view.prompt}${stopped}`;
    const img = document.createElement("img");
    img.alt = "";
    img.loading = "lazy";
    const picture = view.edited_image_url ?? view.original_image_url;
    if (picture) img.src = picture;
    const label = document.createElement("span");
    label.textContent = `${view.chain_position}${stopped ? " ✕" : ""}`;
    label.setAttribute("aria-hidden", "true");
    button.append(img, label);
    button.addEventListener("click", () => chooseStep(view));
    item.append(button);
    return item;
  });
  els.chainStrip.replaceChildren(...items);
  // A chain whose only step failed is just that failure, already shown above.
  els.chainSection.hidden = !state.chain.some(hasSucceeded);
  markCurrentThumbnail();
}

function markCurrentThumbnail() {
  for (const button of els.chainStrip.querySelectorAll(".thumb")) {
    if (button.dataset.uuid === state.current) button.setAttribute("aria-current", "step");
    else button.removeAttribute("aria-current");
  }
}

// ---------------------------------------------------------------- feedback

function showFeedbackState() {
  const done = state.rated.get(state.shown?.uuid);
  els.feedbackStatus.textContent = done ?? "";
  els.feedbackStatus.classList.remove("error");
  els.thumbsUp.disabled = Boolean(done);
  els.thumbsDown.disabled = Boolean(done);
  els.feedbackText.disabled = Boolean(done);
  if (!done) els.feedbackText.value = "";
}

async function rate(rating) {
  const view = state.shown;
  if (!view) return;
  const text = els.feedbackText.value.trim();
  els.feedbackStatus.classList.remove("error");
  if (rating === 0 && !text) {
    els.feedbackStatus.classList.add("error");
    els.feedbackStatus.textContent = "Tell us what went wrong in the box above, then press 👎 again.";
    els.feedbackText.focus();
    return;
  }
  els.thumbsUp.disabled = true;
  els.thumbsDown.disabled = true;
  try {
    const answer = await sendFeedback({ editUuid: view.uuid, rating, text });
    const confirmation = `${answer.message} You rated this edit ${rating ? "👍" : "👎"}.`;
    state.rated.set(view.uuid, confirmation);
    if (state.shown?.uuid === view.uuid) showFeedbackState();
  } catch (error) {
    if (error.status === 409) {
      state.rated.set(view.uuid, "You have already rated this edit; thank you.");
      showFeedbackState();
      return;
    }
    els.feedbackStatus.classList.add("error");
    els.feedbackStatus.textContent = error.message;
    els.thumbsUp.disabled = false;
    els.thumbsDown.disabled = false;
  }
}

els.thumbsUp.addEventListener("click", () => rate(1));
els.thumbsDown.addEventListener("click", () => rate(0));
els.feedbackForm.addEventListener("submit", (event) => event.preventDefault());

// ---------------------------------------------------------------- the address

const START_AFRESH = "Choose an image to start a new edit.";

/** /?edit=<uuid>: the page shows that edit as it was left, with one status check (then the
 * event stream if it is unfinished) and one chain request, well within the rate limits. */
async function openFromAddress() {
  const editId = new URLSearchParams(window.location.search).get("edit");
  if (editId === null) return;
  if (!EDIT_ID.test(editId)) {
    const shown = editId.length > 60 ? `${editId.slice(0, 60)}…` : editId;
    showPageNotice(
      `The page's address names the edit “${shown}”, which is not an edit id (those look like ` +
        `550e8400-e29b-41d4-a716-446655440000). ${START_AFRESH}`,
    );
    setCurrent(null);
    return;
  }
  let view;
  try {
    view = await editStatus(editId);
  } catch (error) {
    if (error.status === 404 || error.status === 422) {
      showPageNotice(
        `There is no edit ${editId} on this server; the link may be from another Mizual ` +
          `server, or the edit was deleted. ${START_AFRESH}`,
      );
      setCurrent(null);
    } else {
      // Too many requests, or the server is away: the address stays, so a reload tries again.
      showPageNotice(`The edit in the page's address could not be shown. ${error.message}`);
    }
    return;
  }
  if (!isFinished(view)) {
    setBusy(true);
    showProgress(view);
    follow(editId, { resume: true });
    return;
  }
  showEdit(view);
  if (hasSucceeded(view) || view.parent_edit_uuid) {
    const chain = await loadChain(editId);
    if (chain) resumeChain(chain);
  }
}

openFromAddress();

// Exposed for people poking at the page from the console; nothing depends on it.
window.mizual = { state };
