// The /view/<doc_id> page: one document, with the sentence named in the URL hash
// highlighted and scrolled into view. The chat's citations link here, for a new tab.

import { fetchDocument } from "./api.js";
import { el } from "./dom.js";
import { parseCite, renderDocumentText } from "./document.js";

const title = document.getElementById("doc-title");
const docIdLine = document.getElementById("doc-id");
const body = document.getElementById("doc-body");

async function show() {
  try {
    // decodeURIComponent throws on a malformed id ("%E0"); that is reported like a missing one.
    const docId = location.pathname.replace(/^\/view\//, "").split("/").map(decodeURIComponent).join("/");
    docIdLine.textContent = docId;
    const doc = await fetchDocument(docId);
    title.textContent = doc.title;
    document.title = `${doc.title} · SpaceQA`;
    const { node, mark } = renderDocumentText(doc.text, parseCite(location.hash));
    body.replaceChildren(node);
    mark?.scrollIntoView({ block: "center" });
  } catch (error) {
    title.textContent = "Document not available";
    body.replaceChildren(el("p", { class: "doc-status doc-error", role: "alert" }, error.message));
  }
}

show();
