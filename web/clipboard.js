// Copying plain text to the clipboard. navigator.clipboard exists only in a secure context
// (https, or localhost): a SpaceQA server reached over plain http on a local network has
// none, so the old execCommand("copy") on a hidden textarea stands in there.

/** Copy `text`; resolves true when it was copied, false when the browser refused. */
export async function copyText(text) {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // Permission refused, or the page lost focus: try the old way before giving up.
    }
  }
  return copyWithSelection(text);
}

function copyWithSelection(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "visually-hidden";
  const focused = document.activeElement;
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  area.remove();
  focused?.focus?.();
  return copied;
}
