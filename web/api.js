// Talks to the SpaceQA JSON API. Every failure becomes an ApiError whose message can be
// shown to a person as is: the server's own message for a 4xx, a plain sentence otherwise.

export class ApiError extends Error {
  /** `retryable`: whether sending the same request again may succeed (not for a 4xx refusal). */
  constructor(message, { retryable = true } = {}) {
    super(message);
    this.retryable = retryable;
  }
}

/** POST /ask with the earlier questions of this chat, oldest first. */
export function ask(question, history, signal) {
  return request("/ask", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ question, history }),
    signal,
  });
}

/** GET /documents: {documents: [{doc_id, title, pages, characters, sentences}]}, no text. */
export function listDocuments() {
  return request("/documents");
}

/** GET /documents/<doc_id>: {doc_id, title, text}; every answer offset points into text. */
export function fetchDocument(docId) {
  return request(documentApiPath(docId));
}

// Doc ids are paths ("notes/mir.txt"): encode each segment, keep the slashes.
function encodeId(docId) {
  return docId.split("/").map(encodeURIComponent).join("/");
}

export function documentApiPath(docId) {
  return `/documents/${encodeId(docId)}`;
}

export function viewPath(docId) {
  return `/view/${encodeId(docId)}`;
}

// A server that never answers must not leave the page waiting forever.
const TIMEOUT_MS = 30_000;

async function request(url, options = {}) {
  // Aborted by the caller ("New chat") or by the clock, whichever comes first.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, TIMEOUT_MS);
  options.signal?.addEventListener("abort", () => controller.abort(), { once: true });
  let response;
  try {
    response = await fetch(url, { ...options, signal: controller.signal });
  } catch (error) {
    if (timedOut) throw new ApiError("The SpaceQA server did not answer in time. Try again in a moment.");
    if (error.name === "AbortError") throw error; // the chat was cleared; nobody is waiting
    throw new ApiError("No connection to the SpaceQA server. Check that it is running, then try again.");
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy's error page, say. The status line below still explains it.
  }
  if (!response.ok) {
    const message = body?.error?.message;
    // A 4xx says what is wrong with the request itself (a question over the length limit):
    // the same request would be refused again. 408 and 429 say "later", as a 5xx may.
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    throw new ApiError(typeof message === "string" && message ? message : `The server answered ${response.status}.`, { retryable });
  }
  if (body === null) throw new ApiError("The server's reply was not JSON.");
  return body;
}
