// Showing a document with the sentence an answer came from highlighted. Shared by the
// side panel of the chat and the /view/<doc_id> page, so both look and behave the same.
//
// A citation ("cite") is {sentence: [start, end], answer: [start, end] | null}: character
// offsets into the document text. It travels in the URL as #sentence=S-E&answer=S-E.

import { el } from "./dom.js";

/** The cite of an answer; `withSpan` false cites the sentence alone (a passage, not an answer). */
export function citeOf(answer, withSpan) {
  return {
    sentence: [answer.sentence_start, answer.sentence_end],
    answer: withSpan ? [answer.start, answer.end] : null,
  };
}

export function citeHash(cite) {
  const parts = [`sentence=${cite.sentence.join("-")}`];
  if (cite.answer) parts.push(`answer=${cite.answer.join("-")}`);
  return `#${parts.join("&")}`;
}

/** Read a cite back from a URL hash; null when there is none or it is malformed. */
export function parseCite(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const sentence = parseRange(params.get("sentence"));
  return sentence && { sentence, answer: parseRange(params.get("answer")) };
}

function parseRange(value) {
  const match = /^(\d+)-(\d+)$/.exec(value ?? "");
  return match && [Number(match[1]), Number(match[2])];
}

/**
 * `text` as nodes with text[start:end] wrapped in a `tag` element of class `className`;
 * just the text when the range does not lie inside it (an old cite after the corpus changed).
 */
export function highlighted(text, [start, end], tag, className) {
  if (!(0 <= start && start < end && end <= text.length)) return [text];
  return [text.slice(0, start), el(tag, { class: className }, text.slice(start, end)), text.slice(end)];
}

/**
 * The document text, whitespace kept, with the cited sentence in a <mark> and the answer
 * span inside it in <strong>. Returns {node, mark}; mark is null when nothing is cited.
 */
export function renderDocumentText(text, cite) {
  const node = el("div", { class: "doc-text" });
  const [start, end] = cite?.sentence ?? [0, 0];
  if (!(0 <= start && start < end && end <= text.length)) {
    node.append(text);
    return { node, mark: null };
  }
  const sentence = text.slice(start, end);
  const span = cite.answer ? [cite.answer[0] - start, cite.answer[1] - start] : [0, 0];
  // tabindex -1: the mark can take focus, so a screen reader lands on the cited sentence.
  const mark = el("mark", { class: "cited", tabindex: "-1" }, ...highlighted(sentence, span, "strong", "cited-answer"));
  node.append(text.slice(0, start), mark, text.slice(end));
  return { node, mark };
}
