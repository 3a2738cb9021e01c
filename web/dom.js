// The one way this app builds DOM. Strings always become text nodes, never markup, so a
// question or a document that holds "<script>" or "<img onerror>" is shown, not run.

const SVG_NS = "http://www.w3.org/2000/svg";

/** Create `tag` with the given attributes ("class" included) and children (nodes or strings). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    // Event handlers are attached with addEventListener; an "on…" attribute here would be a bug.
    if (name.startsWith("on")) throw new Error(`el(): refusing event attribute ${name}`);
    if (value === false || value == null) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.flat().filter((child) => child != null && child !== false));
  return node;
}

/** A decorative 24×24 line icon drawn from SVG path data; hidden from screen readers. */
export function icon(pathData, className = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", pathData);
  svg.append(path);
  return svg;
}

export const ICONS = {
  document: "M7 3h7l5 5v13H7zM14 3v5h5M10 13h6M10 17h6",
  question: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM9.5 9a2.5 2.5 0 1 1 3.5 2.3c-.6.3-1 .9-1 1.6V14M12 17.5v.01",
  alert: "M12 3 2 20h20L12 3zM12 10v4M12 17.5v.01",
  retry: "M20 12a8 8 0 1 1-2.3-5.7M20 4v5h-5",
  copy: "M9 9h11v11H9zM5 15H4V4h11v1",
  link: "M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1",
};
