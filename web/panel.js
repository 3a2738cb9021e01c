// The side panel that opens a cited document next to the conversation: a modal <dialog>,
// so focus stays inside it, Escape closes it and focus returns to the citation.

import { fetchDocument, viewPath } from "./api.js";
import { el } from "./dom.js";
import { citeHash, renderDocumentText } from "./document.js";

/** Wire up `dialog` and return open(answer, cite), which shows answer's document at cite. */
export function createPanel(dialog) {
  const title = dialog.querySelector("[data-panel-title]");
  const pageLink = dialog.querySelector("[data-panel-page]");
  const body = dialog.querySelector("[data-panel-body]");
  const documents = new Map(); // doc_id → Promise of the document; one fetch per document
  let opened = 0; // counts opens, so a slow load cannot replace a document opened after it

  dialog.querySelector("[data-panel-close]").addEventListener("click", () => dialog.close());
  // A click on the backdrop lands on the <dialog> itself; its content fills it edge to edge.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });

  function load(docId) {
    if (!documents.has(docId)) {
      const loading = fetchDocument(docId);
      loading.catch(() => documents.delete(docId)); // let a later click try again
      documents.set(docId, loading);
    }
    return documents.get(docId);
  }

  return async function open(answer, cite) {
    const current = ++opened;
    title.textContent = answer.title;
    pageLink.href = viewPath(answer.doc_id) + citeHash(cite);
    body.replaceChildren(el("p", { class: "doc-status" }, "Loading the document…"));
    if (!dialog.open) dialog.showModal();
    try {
      const doc = await load(answer.doc_id);
      if (current !== opened) return;
      title.textContent = doc.title;
      const { node, mark } = renderDocumentText(doc.text, cite);
      body.replaceChildren(node);
      mark?.scrollIntoView({ block: "center" });
    } catch (error) {
      if (current !== opened) return;
      body.replaceChildren(el("p", { class: "doc-status doc-error", role: "alert" }, error.message));
    }
  };
}
