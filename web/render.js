// Turns of the conversation as DOM: the question, then the answer with its evidence, the
// plain "the documents do not answer" with the closest passages, a wait, or an error.

import { viewPath } from "./api.js";
import { copyText } from "./clipboard.js";
import { el, icon, ICONS } from "./dom.js";
import { citeHash, citeOf, highlighted } from "./document.js";

// Past this length an answer is a clause, not a name or a date: shown at reading size.
const SHORT_ANSWER_CHARS = 80;

/**
 * One turn: the question and the reply. `actions` holds openDocument(answer, cite) and
 * retry(turn), called from the citations and the error's retry button.
 */
export function renderTurn(turn, actions) {
  return el(
    "article",
    { class: "turn" },
    el(
      "div",
      { class: "message user" },
      el("span", { class: "visually-hidden" }, "You asked: "),
      el("p", { class: "question-text" }, turn.question),
      el(
        "a",
        { class: "question-link", href: questionLink(turn.question), title: "Link to this question" },
        icon(ICONS.link),
        el("span", { class: "visually-hidden" }, "Link to this question"),
      ),
    ),
    renderUnderstood(turn),
    renderReply(turn, actions),
  );
}

/**
 * How the server understood a follow-up ("How many days did Norman Thagard spend on Mir?"),
 * quietly under the question, so a wrong reading can be seen and the question rephrased.
 * Empty and hidden for a question taken as asked.
 */
export function renderUnderstood(turn) {
  const understood = turn.result?.understood_as;
  const line = el("p", { class: "understood" }, understood ? ["Understood as: ", el("q", {}, understood)] : []);
  line.hidden = !understood;
  return line;
}

/** The address that asks `question` when opened: the chat page with ?q=, read by app.js. */
export function questionLink(question) {
  return `/?q=${encodeURIComponent(question)}`;
}

/** The reply half of a turn, as it stands now. */
export function renderReply(turn, actions) {
  if (turn.pending) return renderPending();
  if (turn.error !== undefined) return renderError(turn, actions);
  return turn.result.answer === null ? renderNoAnswer(turn.result, actions) : renderAnswer(turn.result, actions);
}

function renderPending() {
  return el(
    "div",
    { class: "message bot pending" },
    el("span", { class: "typing", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
    el("span", {}, "Searching the documents…"),
  );
}

function renderError(turn, actions) {
  const status = el(
    "p",
    { class: "status-line" },
    icon(ICONS.alert),
    el("span", {}, el("strong", {}, "Could not get an answer. "), turn.error),
  );
  // A refusal of the question itself (too long, say) would only be refused again: no retry.
  if (turn.retryable === false) {
    return el("div", { class: "message bot error", role: "alert" }, status, el("p", { class: "hint-line" }, "Change the question and send it again."));
  }
  const retry = el("button", { type: "button", class: "button-quiet retry" }, icon(ICONS.retry), "Try again");
  retry.addEventListener("click", () => actions.retry(turn));
  return el("div", { class: "message bot error", role: "alert" }, status, retry);
}

function renderAnswer(result, actions) {
  const [best, ...others] = result.answers;
  // When no short span was found the answer is the whole sentence: quoting it again would repeat it.
  const wholeSentence = best.text === best.sentence;
  const long = wholeSentence || best.text.length > SHORT_ANSWER_CHARS;
  return el(
    "div",
    { class: "message bot" },
    el("span", { class: "visually-hidden" }, "Answer: "),
    el("p", { class: long ? "answer-text long" : "answer-text" }, best.text),
    renderEvidence(best, { span: true, quote: !wholeSentence, confidence: true }, actions),
    renderCopy(answerAsText(best)),
    // The runners-up are context, not rival answers: folded away, and no span singled out.
    others.length > 0 &&
      el(
        "details",
        { class: "others" },
        el("summary", {}, others.length === 1 ? "1 other passage considered" : `${others.length} other passages considered`),
        el("ul", { class: "candidates" }, others.map((answer) => el("li", {}, renderEvidence(answer, { span: false, quote: true }, actions)))),
      ),
  );
}

/**
 * The answer as one line of plain text, with its evidence and source, for pasting elsewhere:
 * `Norman Thagard — "In March 1995, …" (The Shuttle-Mir Program, page 3)`.
 */
export function answerAsText(answer) {
  const source = answer.page != null ? `${answer.title}, page ${answer.page}` : answer.title;
  const quoted = `"${answer.sentence}" (${source})`;
  return answer.text === answer.sentence ? quoted : `${answer.text} — ${quoted}`;
}

// Says "Copied" (or that it could not) beside the button for a moment, to the eye and to
// screen readers alike; the button keeps its name, so it can be pressed again.
const COPY_STATUS_MS = 2500;

function renderCopy(text) {
  const status = el("span", { class: "copy-status", role: "status" });
  const button = el("button", { type: "button", class: "button-quiet copy" }, icon(ICONS.copy), "Copy", el("span", { class: "visually-hidden" }, " answer"));
  let timer;
  button.addEventListener("click", async () => {
    const copied = await copyText(text);
    status.textContent = copied ? "Copied" : "Could not copy: the browser refused";
    clearTimeout(timer);
    timer = setTimeout(() => (status.textContent = ""), COPY_STATUS_MS);
  });
  return el("div", { class: "answer-actions" }, button, status);
}

function renderNoAnswer(result, actions) {
  return el(
    "div",
    { class: "message bot no-answer" },
    el("p", { class: "status-line" }, icon(ICONS.question), el("strong", {}, "The documents do not answer this question.")),
    result.answers.length > 0 && [
      el("p", { class: "candidates-label" }, "Closest passages found — not an answer:"),
      el("ul", { class: "candidates" }, result.answers.map((answer) => el("li", {}, renderEvidence(answer, { span: false, quote: true }, actions)))),
    ],
  );
}

/**
 * A quoted sentence (its span highlighted when `span`), with a link to its document that opens
 * the side panel, or a new tab when clicked with a modifier.
 */
function renderEvidence(answer, { span, quote, confidence = false }, actions) {
  const cite = citeOf(answer, span);
  const link = el(
    "a",
    { class: "cite", href: viewPath(answer.doc_id) + citeHash(cite) },
    icon(ICONS.document),
    el("span", { class: "visually-hidden" }, "Source: "),
    el("span", { class: "cite-title" }, answer.title),
    answer.page != null && el("span", { class: "cite-page" }, `, page ${answer.page}`),
  );
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    actions.openDocument(answer, cite);
  });
  const spanRange = [answer.start - answer.sentence_start, answer.end - answer.sentence_start];
  return el(
    "figure",
    { class: "evidence" },
    quote && el("blockquote", { class: "quote" }, span ? highlighted(answer.sentence, spanRange, "mark", "span") : answer.sentence),
    el(
      "figcaption",
      { class: "source" },
      link,
      // Rounded down: a 0.997 is not certainty, and "100%" would claim it.
      confidence && el("span", { class: "confidence" }, `${Math.floor(answer.score * 100)}% confidence`),
    ),
  );
}
