// dom.js: building elements without innerHTML, so text from the server is never
// parsed as markup.

// h('p', {class: 'x', onclick: fn}, 'text', child, [more]) -> element
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// A labelled form field; returns {wrap, input}.
let fieldSeq = 0;
export function field(label, attrs) {
  const id = 'f' + (++fieldSeq);
  const tag = attrs && attrs.multiline ? 'textarea' : attrs && attrs.options ? 'select' : 'input';
  const a = Object.assign({}, attrs, {id});
  delete a.multiline;
  const opts = a.options;
  delete a.options;
  const input = h(tag, a);
  if (opts) for (const [value, text] of opts) input.append(h('option', {value}, text));
  return {wrap: h('div', {}, h('label', {for: id}, label), input), input};
}

export function fmtDate(s) {
  if (!s) return '';
  const d = new Date(typeof s === 'number' ? s * 1000 : s);
  return isNaN(d) ? String(s) : d.toLocaleString();
}

export function statusBadge(status) {
  const label = String(status || 'unknown').replace(/_/g, ' ');
  return h('span', {class: 'badge ' + (status || '')}, label);
}
