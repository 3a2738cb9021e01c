// The conversation as data: a list of turns, kept in localStorage so a reload brings it back.
// A turn is {question, result} after an answer, {question, error} after a failure, and
// {question, pending: true} while waiting (never saved: a reload abandons the request).
// A turn asked through a /?q= link also has linked: true (see historyBefore).

const STORAGE_KEY = "spaceqa.conversation.v1";

// The server's default SPACEQA_MAX_HISTORY. A follow-up leans on the last few questions;
// sending more than the server accepts would turn every later question into an error.
const MAX_HISTORY = 20;

// The fields the page shows. The passages are left out: they are long, unused here, and
// localStorage holds only a few megabytes.
const ANSWER_FIELDS = ["text", "sentence", "score", "doc_id", "title", "start", "end", "sentence_start", "sentence_end", "page"];

/** The saved turns, or [] when there are none or they cannot be read. */
export function loadTurns() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY));
    return Array.isArray(saved?.turns) ? saved.turns.filter(isSavedTurn) : [];
  } catch {
    return []; // storage disabled, or written by something else: start afresh
  }
}

/** Save the finished turns; a chat that cannot be saved still works until the page closes. */
export function saveTurns(turns) {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ turns: turns.filter((turn) => !turn.pending) }));
  } catch {
    // Storage full or disabled: nothing to do but carry on.
  }
}

/**
 * The turns before `turns[index]` that got a reply: the `history` of a follow-up, each as
 * {question, answer, understood_as}: the answer shown (so the server need not ask it again)
 * and how the server understood the question (so "he" two turns on still finds who he was).
 * A question opened from a link (`linked`) was written without this chat in mind, so it starts
 * a fresh thread: it is sent with no history, and later questions follow on from it alone.
 */
export function historyBefore(turns, index) {
  if (turns[index]?.linked) return [];
  const earlier = turns.slice(0, index);
  return earlier
    .slice(Math.max(0, earlier.findLastIndex((turn) => turn.linked)))
    .filter((turn) => turn.result)
    .map((turn) => ({ question: turn.question, answer: turn.result.answer, understood_as: turn.result.understood_as ?? null }))
    .slice(-MAX_HISTORY);
}

/** Keep what the page needs from an /ask reply. */
export function keepResult(reply) {
  return {
    understood_as: reply.understood_as ?? null,
    answer: reply.answer,
    answers: reply.answers.map((answer) => Object.fromEntries(ANSWER_FIELDS.map((field) => [field, answer[field]]))),
  };
}

function isSavedTurn(turn) {
  return (
    typeof turn?.question === "string" &&
    (Array.isArray(turn.result?.answers) || typeof turn.error === "string")
  );
}
