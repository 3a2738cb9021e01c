// The chat page: sends questions, shows the replies, keeps the conversation across reloads.

import { ApiError, ask, listDocuments, viewPath } from "./api.js";
import { historyBefore, keepResult, loadTurns, saveTurns } from "./conversation.js";
import { el } from "./dom.js";
import { createPanel } from "./panel.js";
import { renderReply, renderTurn, renderUnderstood } from "./render.js";

const form = document.getElementById("composer");
const input = document.getElementById("question");
const sendButton = document.getElementById("send");
const scroller = document.getElementById("main");
const transcript = document.getElementById("transcript");
const emptyState = document.getElementById("empty");
const newChatButton = document.getElementById("new-chat");
const lengthHint = document.querySelector("[data-length-hint]");

const actions = { openDocument: createPanel(document.getElementById("document-panel")), retry };
const views = new Map(); // turn → its <article> in the transcript
let turns = loadTurns();
let inFlight = null; // AbortController of the request being waited on; one at a time
const LENGTH_SHOWN_FROM = 0.8; // of the question's length limit: when the count appears under the box

function viewOf(turn) {
  if (!views.has(turn)) views.set(turn, renderTurn(turn, actions));
  return views.get(turn);
}

/** Bring the controls in line with the state: empty state, busy send button, New chat. */
function refresh() {
  emptyState.hidden = turns.length > 0;
  transcript.hidden = turns.length === 0;
  newChatButton.disabled = turns.length === 0;
  sendButton.disabled = inFlight !== null;
  form.setAttribute("aria-busy", String(inFlight !== null));
}

// Show the end of a turn, or its start when it is taller than the window, so a long reply
// is read from its question down rather than from its last line up.
function reveal(turn, behavior = "smooth") {
  const view = viewOf(turn);
  const fits = view.offsetHeight < scroller.clientHeight;
  const still = matchMedia("(prefers-reduced-motion: reduce)").matches;
  view.scrollIntoView({ block: fits ? "end" : "start", behavior: still ? "instant" : behavior });
}

function send(question, { linked = false } = {}) {
  if (inFlight !== null) return;
  const turn = linked ? { question, linked, pending: true } : { question, pending: true };
  turns.push(turn);
  transcript.append(viewOf(turn));
  refresh();
  reveal(turn);
  fetchReply(turn);
}

function retry(turn) {
  if (inFlight !== null) return;
  input.focus(); // the retry button is about to be replaced; keep focus somewhere useful
  delete turn.error;
  delete turn.retryable;
  turn.pending = true;
  showReply(turn);
  fetchReply(turn);
}

async function fetchReply(turn) {
  const controller = new AbortController();
  inFlight = controller;
  refresh();
  try {
    const reply = await ask(turn.question, historyBefore(turns, turns.indexOf(turn)), controller.signal);
    turn.result = keepResult(reply);
  } catch (error) {
    if (controller.signal.aborted) return; // "New chat" dropped this turn; nothing to show
    turn.error = error instanceof ApiError ? error.message : `Something went wrong in the page: ${error.message}`;
    if (error instanceof ApiError && !error.retryable) turn.retryable = false;
  }
  inFlight = null;
  delete turn.pending;
  showReply(turn);
  saveTurns(turns);
  refresh();
  reveal(turn);
}

function showReply(turn) {
  const view = viewOf(turn);
  view.querySelector(".understood").replaceWith(renderUnderstood(turn));
  view.lastElementChild.replaceWith(renderReply(turn, actions));
}

function newChat() {
  inFlight?.abort();
  inFlight = null;
  turns = [];
  views.clear();
  transcript.replaceChildren();
  saveTurns(turns);
  refresh();
  input.focus();
}

// The textarea grows with its text, up to the max-height the stylesheet gives it.
function fitInput() {
  input.style.height = "auto";
  input.style.height = `${input.scrollHeight}px`;
  // The box stops taking characters at the server's limit; say so before it happens, not silently.
  const used = input.value.length;
  lengthHint.hidden = used < input.maxLength * LENGTH_SHOWN_FROM;
  lengthHint.textContent = ` ${used} of ${input.maxLength} characters.`;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const question = input.value.trim();
  if (!question || inFlight !== null) return; // keep what was typed while a reply is on its way
  input.value = "";
  fitInput();
  send(question);
});

input.addEventListener("keydown", (event) => {
  // Enter sends, Shift+Enter is a new line; Enter that confirms an IME composition is neither.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
input.addEventListener("input", fitInput);

for (const example of document.querySelectorAll("[data-example]")) {
  example.addEventListener("click", () => {
    send(example.textContent.trim());
    input.focus();
  });
}
newChatButton.addEventListener("click", newChat);

/**
 * A link to a question (/?q=…, as each question in the transcript offers) asks it once. The
 * ?q= is dropped from the address straight away, so reloading shows the conversation instead
 * of asking again; a link opened twice in a row does not repeat the question it just asked.
 */
function askLinkedQuestion() {
  const params = new URLSearchParams(location.search);
  const question = params.get("q")?.trim(); // too long a one gets the server's own message
  if (!params.has("q")) return false;
  params.delete("q");
  const rest = params.toString();
  history.replaceState(history.state, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
  if (!question || turns.at(-1)?.question === question) return false;
  send(question, { linked: true });
  return true;
}

/** The empty state's list of the documents, each opening as a page of its own; loaded once. */
async function showLibrary() {
  const list = document.querySelector("[data-library]");
  try {
    const { documents } = await listDocuments();
    list.replaceChildren(
      ...documents.map((doc) =>
        el("li", {}, el("a", { href: viewPath(doc.doc_id), target: "_blank", rel: "noopener" }, doc.title),
          el("span", { class: "library-meta" }, doc.pages ? ` · ${doc.pages} pages` : "")),
      ),
    );
  } catch (error) {
    list.replaceChildren(el("li", { class: "doc-error", role: "alert" }, error.message));
  }
}

showLibrary();
transcript.replaceChildren(...turns.map(viewOf));
refresh();
if (!askLinkedQuestion() && turns.length > 0) reveal(turns.at(-1), "instant");
