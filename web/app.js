// app.js: the medify web UI. Hash routes (#/chat/ID, #/reports/ID, ...) so that every
// view has a URL that works on reload and the server serves one page. Each view asks
// the API for what it shows; the server decides what a user may see, and a refusal is
// shown as a refusal with nothing of the record on screen.
import {h, clear, field, fmtDate, statusBadge} from './dom.js';
import {get as apiGet, post, patch, setCsrf, streamReport} from './api.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const banner = document.getElementById('emergency');
const app = {user: null, stop: null, justFinished: null, after: null, pending: new Map(), gen: 0};
const enc = encodeURIComponent;

// A view the user navigated away from while it waited for the API must not draw over
// the page they went to: every route starts a new generation, and a read begun by an
// older one rejects with `stale`, which run() ignores.
const stale = new Error('stale view');
async function get(path) {
  const gen = app.gen;
  const r = await apiGet(path);
  if (gen !== app.gen) throw stale;
  return r;
}

// Lists may come bare or wrapped ({reports: [...]}, {items: [...]}).
function list(x, key) {
  if (Array.isArray(x)) return x;
  if (!x) return [];
  return x[key] || x.items || x.data || [];
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// Starts a view: title, heading that takes focus (so keyboard and screen-reader users
// land on the new content), then the content.
function view(title, ...content) {
  clear(main);
  document.title = title + ' · medify';
  const h1 = h('h1', {tabindex: '-1'}, title);
  main.append(h1, ...content);
  h1.focus();
  return h1;
}

function errorBox(e) {
  return h('p', {class: 'error', role: 'alert'}, e && e.message ? e.message : String(e));
}

// A refusal or a missing record: no data of the record is shown.
function refused(e) {
  const title = e.status === 403 ? 'Not available' : e.status === 404 ? 'Not found' : 'Something went wrong';
  const text = e.status === 403 || e.status === 404
    ? 'This record does not exist or you are not allowed to open it.'
    : e.message;
  view(title, h('p', {role: 'alert', class: 'error', 'data-refused': e.status || 0}, text),
    h('p', {}, h('a', {href: '#/'}, 'Back to the start page')));
}

// ------------------------------------------------------------------ emergency --
function showEmergency(em) {
  clear(banner);
  const flags = list(em.flags, 'flags');
  banner.append(
    h('h2', {}, 'This may be an emergency'),
    flags.length ? h('ul', {}, flags.map((f) => h('li', {}, h('strong', {}, f.name || f.id || 'Warning sign'), f.advice ? ': ' + f.advice : ''))) : null,
    em.guidance && !flags.some((f) => f.advice === em.guidance) ? h('p', {}, em.guidance) : null,
    h('p', {}, h('strong', {}, 'Call your local emergency number now'),
      ' (999 in the UK, 112 in the EU, 911 in the US) or go to the nearest emergency department. Do not wait for this report.'),
  );
  banner.hidden = false;
  banner.scrollIntoView({block: 'start'});
}

function hideEmergency() {
  banner.hidden = true;
  clear(banner);
}

// ------------------------------------------------------------------------ nav --
function renderNav() {
  clear(nav);
  const u = app.user;
  if (!u) {
    nav.append(h('a', {href: '#/login'}, 'Sign in'), h('a', {href: '#/signup'}, 'Create account'));
    return;
  }
  const links = {
    patient: [['#/chat', 'New interview'], ['#/', 'My history']],
    clinician: [['#/queue', 'Report queue'], ['#/patients', 'Patients']],
    admin: [['#/admin', 'Users']],
  }[u.role] || [];
  for (const [href, text] of links) nav.append(h('a', {href}, text));
  nav.append(h('span', {class: 'who'}, (u.name || u.email) + ' (' + u.role + ')'),
    h('button', {type: 'button', onclick: signOut}, 'Sign out'));
}

async function signOut() {
  try { await post('/v1/auth/logout'); } catch (e) { /* the session is dropped locally either way */ }
  app.user = null;
  setCsrf(null);
  renderNav();
  go('#/login');
}

function signedIn(res) {
  app.user = res.user;
  setCsrf(res.csrf_token);
  renderNav();
}

// ----------------------------------------------------------------------- auth --
function authForm(mode) {
  const signup = mode === 'signup';
  const name = signup ? field('Your name', {name: 'name', autocomplete: 'name', required: true}) : null;
  const email = field('Email', {name: 'email', type: 'email', autocomplete: 'email', required: true});
  const pw = field('Password', {name: 'password', type: 'password', required: true,
    autocomplete: signup ? 'new-password' : 'current-password', minlength: signup ? 8 : null});
  const msg = h('div', {'aria-live': 'polite'});
  const btn = h('button', {type: 'submit'}, signup ? 'Create account' : 'Sign in');
  const form = h('form', {class: 'card', novalidate: false}, name && name.wrap, email.wrap, pw.wrap, h('p', {}, btn), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(msg);
    btn.disabled = true;
    try {
      const body = {email: email.input.value.trim(), password: pw.input.value};
      if (signup) body.name = name.input.value.trim();
      signedIn(await post(signup ? '/v1/auth/signup' : '/v1/auth/login', body));
      const next = app.after;
      app.after = null;
      go(next || '#/');
    } catch (e) {
      msg.append(errorBox(e));
      btn.disabled = false;
    }
  });
  view(signup ? 'Create your account' : 'Sign in',
    h('p', {}, 'medify asks about your symptoms one question at a time and prepares a report that a clinician reviews.'),
    form,
    h('p', {}, signup ? h('a', {href: '#/login'}, 'I already have an account') : h('a', {href: '#/signup'}, 'Create an account')));
}

// ------------------------------------------------------------ patient: home --
async function showHome() {
  const [ivs, reps] = await Promise.all([get('/v1/interviews'), get('/v1/reports')]);
  const interviews = list(ivs, 'interviews');
  const reports = list(reps, 'reports');
  view('Your health questions',
    h('p', {}, h('a', {class: 'button', href: '#/chat'}, 'Start a new interview')),
    h('h2', {}, 'Reports'),
    reports.length ? h('ul', {}, reports.map((r) => h('li', {},
      h('a', {href: '#/reports/' + enc(r.id)}, 'Report of ' + fmtDate(r.created_at)), ' ', statusBadge(r.status))))
      : h('p', {class: 'muted'}, 'No reports yet.'),
    h('h2', {}, 'Interviews'),
    interviews.length ? h('ul', {}, interviews.map((iv) => h('li', {},
      h('a', {href: '#/chat/' + enc(iv.id)}, 'Interview of ' + fmtDate(iv.created_at)), ' ', statusBadge(iv.status))))
      : h('p', {class: 'muted'}, 'No interviews yet.'));
}

// ------------------------------------------------------------ patient: chat ---
function startChat() {
  const age = field('Age in years (optional)', {type: 'number', min: 0, max: 120, inputmode: 'numeric', name: 'age'});
  const sex = field('Sex (optional)', {name: 'sex', options: [['', 'Prefer not to say'], ['female', 'Female'], ['male', 'Male']]});
  const msg = h('div', {'aria-live': 'polite'});
  const btn = h('button', {type: 'submit'}, 'Start');
  const form = h('form', {class: 'card'}, h('div', {class: 'row'}, h('div', {class: 'grow'}, age.wrap), h('div', {class: 'grow'}, sex.wrap)),
    h('p', {}, btn), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    btn.disabled = true;
    clear(msg);
    const body = {};
    if (age.input.value !== '') body.age = Number(age.input.value);
    if (sex.input.value) body.sex = sex.input.value;
    try {
      const iv = await post('/v1/interviews', body);
      location.replace('#/chat/' + enc(iv.id));
    } catch (e) {
      msg.append(errorBox(e));
      btn.disabled = false;
    }
  });
  view('New interview', h('p', {}, 'Age and sex help medify ask the right questions. You can leave them empty.'), form);
}

function bubble(role, text) {
  return h('div', {class: 'msg ' + (role === 'patient' ? 'patient' : 'medify')},
    h('span', {class: 'sr-only'}, role === 'patient' ? 'You said: ' : 'medify: '), text);
}

async function showChat(id) {
  const iv = await get('/v1/interviews/' + enc(id));
  const open = iv.status !== 'finished';
  const log = h('div', {class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation'});
  const typing = h('div', {class: 'typing', role: 'status', hidden: true}, 'medify is typing', h('span', {'aria-hidden': 'true'}, ' …'));
  const choices = h('div', {class: 'choices', role: 'group', 'aria-label': 'Quick replies'});
  const triage = h('div', {'aria-live': 'polite'});
  const input = h('textarea', {id: 'chat-input', name: 'text', rows: 1, autocomplete: 'off', maxlength: 4000,
    placeholder: 'Type your answer'});
  const send = h('button', {type: 'submit'}, 'Send');
  const composer = h('form', {class: 'composer', 'aria-label': 'Reply'},
    h('label', {for: 'chat-input', class: 'sr-only'}, 'Your message'), input, send);
  const finishBtn = h('button', {type: 'button', class: 'secondary', onclick: finish}, 'Finish and get my report');
  const status = h('div', {'aria-live': 'assertive'});
  let question = app.pending.get(String(id)) || null;

  const msgs = list(iv.messages, 'messages');
  if (!msgs.length) log.append(bubble('medify', 'Hello. Please describe your symptoms in your own words: what you feel, where, and since when.'));
  for (const m of msgs) log.append(bubble(m.role, m.text));
  if (iv.emergency && iv.emergency.active) showEmergency(iv.emergency);
  if (iv.triage) renderTriage(iv.triage);
  renderChoices();

  view(open ? 'Symptom interview' : 'Interview (finished)', h('div', {class: 'chat'}, log, typing, choices,
    open ? composer : h('p', {class: 'muted'}, 'This interview is finished.'), triage,
    open ? h('p', {class: 'row'}, finishBtn) : null, status));
  if (open) input.focus();
  log.lastElementChild && log.lastElementChild.scrollIntoView({block: 'nearest'});

  function renderTriage(t) {
    clear(triage);
    if (!t || !t.label) return;
    triage.append(h('div', {class: 'card triage', 'data-level': t.level || ''}, h('strong', {}, 'Suggested care: ' + t.label), t.advice ? h('p', {}, t.advice) : null));
  }

  function renderChoices() {
    clear(choices);
    if (!question || !open) return;
    for (const c of list(question.choices, 'choices')) {
      choices.append(h('button', {type: 'button', onclick: () => say({answer: {question_id: question.id, choice: c.id}}, c.label)}, c.label));
    }
  }

  function busy(on, text) {
    typing.hidden = !on;
    if (text) typing.firstChild.textContent = text;
    input.disabled = on;
    send.disabled = on;
    finishBtn.disabled = on;
    for (const b of choices.querySelectorAll('button')) b.disabled = on;
  }

  async function say(body, shown) {
    log.append(bubble('patient', shown));
    clear(choices);
    clear(status);
    busy(true, 'medify is typing');
    let alarm = null;
    try {
      const res = await post('/v1/interviews/' + enc(id) + '/messages', body);
      const reply = res.reply && res.reply.text ? res.reply.text : '';
      if (reply) log.append(bubble('medify', reply));
      question = res.next_question || null;
      app.pending.set(String(id), question);
      if (question && question.text && !reply.includes(question.text)) log.append(bubble('medify', question.text));
      alarm = res.emergency && res.emergency.active ? res.emergency : null;
      renderTriage(res.triage);
      if (res.should_stop) {
        log.append(bubble('medify', res.emergency && res.emergency.active
          ? 'Please get help now: see the red box at the top. You can still press "Finish and get my report" to save what you told me for a clinician.'
          : 'Thank you, that is enough for a summary. Press "Finish and get my report" when you are ready.'));
        finishBtn.className = '';
      }
      renderChoices();
    } catch (e) {
      status.append(errorBox(e));
    }
    busy(false);
    const first = choices.querySelector('button');
    if (alarm) {
      // The banner goes on screen last, so nothing scrolls it away again.
      (first || input).focus({preventScroll: true});
      showEmergency(alarm);
    } else {
      log.lastElementChild.scrollIntoView({block: 'nearest'});
      (first || input).focus();
    }
  }

  composer.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    // Typed words answer the pending question too: the server reads them as the
    // terminal interview does ("3 days", "39.2", "not sure", new symptoms).
    say({text}, text);
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });

  async function finish() {
    clear(status);
    busy(true, 'medify is preparing your summary');
    try {
      const res = await post('/v1/interviews/' + enc(id) + '/finish');
      app.pending.delete(String(id));
      if (res.report && res.report.id !== undefined) {
        app.justFinished = String(res.report.id);
        go('#/reports/' + enc(res.report.id));
        return;
      }
      busy(false);
      status.append(h('p', {}, 'The interview is finished.'));
    } catch (e) {
      busy(false);
      status.append(errorBox(e));
    }
  }
}

// ------------------------------------------------------------------ reports ---
// Report text is plain text with light markup: "- " starts a list item, **x** is
// emphasis, a blank line separates paragraphs. Built as DOM nodes, never as HTML.
function inline(line) {
  const parts = line.split('**');
  return parts.map((p, i) => (i % 2 === 1 && i < parts.length - 1 ? h('strong', {}, p) : p));
}

function richText(text) {
  const box = h('div', {class: 'report-section'});
  let ul = null;
  let para = null;
  for (const raw of String(text || '').split('\n')) {
    const line = raw.trimEnd();
    if (/^\s*[-*] /.test(line)) {
      para = null;
      if (!ul) box.append(ul = h('ul', {}));
      ul.append(h('li', {}, inline(line.replace(/^\s*[-*] /, ''))));
    } else if (!line.trim()) {
      ul = null;
      para = null;
    } else {
      ul = null;
      if (!para) box.append(para = h('p', {}));
      else para.append(h('br', {}));
      para.append(...inline(line));
    }
  }
  return box;
}

function reportMeta(r) {
  return h('p', {class: 'row'}, statusBadge(r.status),
    h('span', {class: 'muted'}, 'Written ' + fmtDate(r.created_at)),
    r.signed_at ? h('span', {class: 'muted'}, 'Signed ' + fmtDate(r.signed_at)) : null);
}

function renderCases(cases) {
  const items = list(cases, 'similar_cases');
  if (!items.length) return null;
  return h('section', {'aria-labelledby': 'cases-h'},
    h('h2', {id: 'cases-h'}, 'Similar published cases'),
    h('p', {class: 'muted'}, 'Case reports whose descriptions resemble yours. They are for your clinician; they do not mean you have the same condition.'),
    h('ol', {class: 'cases'}, items.map((c) => h('li', {}, c.title || 'Case ' + (c.patient_uid || c.case_id),
      h('span', {class: 'muted'}, ' — PMID ', h('span', {class: 'pmid'}, String(c.pmid || 'n/a')))))));
}

function renderNotes(notes) {
  const items = list(notes, 'notes');
  if (!items.length) return null;
  return h('section', {}, h('h2', {}, 'Notes and prescriptions'),
    items.map((n) => h('div', {class: 'note'}, h('strong', {}, n.kind === 'prescription' ? 'Prescription' : 'Note'),
      n.at || n.created_at ? h('span', {class: 'muted'}, ' · ' + fmtDate(n.at || n.created_at)) : null,
      h('p', {class: 'pre'}, n.text))));
}

function renderReportBody(r) {
  return [
    reportMeta(r),
    list(r.sections, 'sections').map((s) => h('section', {},
      h('h2', {}, s.title || s.key), richText(s.text))),
    renderCases(r.similar_cases),
    renderNotes(r.notes),
    h('p', {class: 'card', role: 'note'}, h('strong', {}, 'Please note: '), r.notice || document.getElementById('notice').textContent),
  ];
}

async function showReport(id) {
  if (app.user.role !== 'patient') return showReview(id);
  const r = await get('/v1/reports/' + enc(id));
  const body = h('div', {});
  const live = r.status === 'generating' || app.justFinished === String(id);
  app.justFinished = null;
  view('Your report', body);
  if (live) {
    const text = h('div', {class: 'streaming card', 'aria-live': 'polite', 'aria-busy': 'true'});
    body.append(h('p', {role: 'status'}, 'medify is writing your report…'), text);
    app.stop = streamReport(id, (piece) => text.append(piece), (done) => fill(done || r), async (msg) => {
      try { fill(await get('/v1/reports/' + enc(id))); } catch (e) { body.append(errorBox(msg)); }
    });
  } else {
    fill(r);
  }

  function fill(rep) {
    clear(body);
    body.append(...renderReportBody(rep).filter(Boolean).flat(),
      h('p', {}, h('a', {class: 'button secondary', href: '/v1/reports/' + enc(id) + '/pdf', download: 'medify-report-' + id + '.pdf'}, 'Download PDF')),
      questions(id));
  }
}

function questions(id) {
  const q = field('Your question about this report', {multiline: true, name: 'question', rows: 2, maxlength: 2000});
  const answers = h('div', {'aria-live': 'polite'});
  const btn = h('button', {type: 'submit'}, 'Ask');
  const form = h('form', {}, q.wrap, h('p', {}, btn));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const text = q.input.value.trim();
    if (!text) return;
    btn.disabled = true;
    try {
      const res = await post('/v1/reports/' + enc(id) + '/questions', {question: text});
      answers.append(h('div', {class: 'note'}, h('p', {}, h('strong', {}, 'You asked: '), text),
        richText(res.answer || '')));
      q.input.value = '';
    } catch (e) {
      answers.append(errorBox(e));
    }
    btn.disabled = false;
  });
  return h('section', {class: 'card'}, h('h2', {}, 'Questions about your report'), form, answers);
}

// ---------------------------------------------------------------- clinician ---
async function showQueue(status) {
  status = status || 'pending';
  const res = await get('/v1/reports?status=' + enc(status));
  const reports = list(res, 'reports');
  const tabs = h('nav', {class: 'tabs', 'aria-label': 'Report status'},
    [['pending', 'Pending'], ['reviewed', 'In review'], ['signed', 'Signed']].map(([s, label]) =>
      h('a', {class: 'button secondary', href: '#/queue/' + s, 'aria-current': s === status ? 'page' : null}, label)));
  view('Report queue', tabs, reports.length
    ? h('div', {class: 'table-wrap'}, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Written'), h('th', {}, 'Patient'), h('th', {}, 'Status'), h('th', {}, h('span', {class: 'sr-only'}, 'Open')))),
      h('tbody', {}, reports.map((r) => h('tr', {}, h('td', {}, fmtDate(r.created_at)),
        h('td', {}, r.patient_name || r.patient_id || ''), h('td', {}, statusBadge(r.status)),
        h('td', {}, h('a', {href: '#/review/' + enc(r.id)}, 'Review')))))))
    : h('p', {class: 'muted'}, 'No reports here.'));
}

async function showPatients() {
  const res = await get('/v1/patients');
  const patients = list(res, 'patients');
  view('Patients', patients.length
    ? h('ul', {}, patients.map((p) => h('li', {}, h('a', {href: '#/patients/' + enc(p.id)}, p.name || p.email || p.id),
      p.email ? h('span', {class: 'muted'}, ' ' + p.email) : null)))
    : h('p', {class: 'muted'}, 'No patients yet.'));
}

function transcript(messages) {
  const msgs = list(messages, 'messages');
  return h('div', {class: 'log'}, msgs.map((m) => bubble(m.role, m.text)));
}

async function showPatient(id) {
  const res = await get('/v1/patients/' + enc(id));
  const u = res.user || {};
  view('Patient: ' + (u.name || u.email || id),
    h('p', {}, u.email || ''),
    h('h2', {}, 'Reports'),
    h('ul', {}, list(res.reports, 'reports').map((r) => h('li', {}, h('a', {href: '#/review/' + enc(r.id)}, 'Report of ' + fmtDate(r.created_at)), ' ', statusBadge(r.status)))),
    h('h2', {}, 'Interviews'),
    list(res.interviews, 'interviews').map((iv) => h('details', {class: 'card'},
      h('summary', {}, 'Interview of ' + fmtDate(iv.created_at) + ' (' + iv.status + ')'), transcript(iv.messages))));
}

// Enough rows to show a section without scrolling inside it, within reason.
function textRows(text) {
  const lines = String(text || '').split('\n');
  const n = lines.reduce((sum, l) => sum + 1 + Math.floor(l.length / 90), 0);
  return Math.min(24, Math.max(4, n + 1));
}

async function showReview(id) {
  const r = await get('/v1/reports/' + enc(id));
  const signed = r.status === 'signed';
  const msg = h('div', {'aria-live': 'polite'});
  const editors = list(r.sections, 'sections').map((s) => ({s, f: field(s.title || s.key, {multiline: true, name: 'section-' + s.key, value: s.text || '', readonly: signed, rows: textRows(s.text)})}));
  const save = h('button', {type: 'submit', disabled: signed}, 'Save changes');
  const form = h('form', {class: 'card', 'aria-labelledby': 'sections-h'}, h('h2', {id: 'sections-h'}, 'Sections'),
    editors.map((e) => e.f.wrap), h('p', {}, save));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const changed = editors.filter((e) => e.f.input.value !== (e.s.text || '')).map((e) => ({key: e.s.key, text: e.f.input.value}));
    clear(msg);
    if (!changed.length) { msg.append(h('p', {}, 'Nothing has changed.')); return; }
    save.disabled = true;
    try {
      await patch('/v1/reports/' + enc(id), {sections: changed});
      await showReview(id);
      return;
    } catch (e) { msg.append(errorBox(e)); }
    save.disabled = false;
  });

  const kind = field('Kind', {name: 'kind', options: [['note', 'Note'], ['prescription', 'Prescription']], disabled: signed});
  const text = field('Text', {multiline: true, name: 'note', rows: 3, disabled: signed});
  const addBtn = h('button', {type: 'submit', disabled: signed}, 'Add');
  const notesForm = h('form', {class: 'card'}, h('h2', {}, 'Add a note or prescription'), kind.wrap, text.wrap, h('p', {}, addBtn));
  notesForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!text.input.value.trim()) return;
    addBtn.disabled = true;
    clear(msg);
    try {
      await post('/v1/reports/' + enc(id) + '/notes', {kind: kind.input.value, text: text.input.value.trim()});
      await showReview(id);
      return;
    } catch (e) { msg.append(errorBox(e)); }
    addBtn.disabled = false;
  });

  const signBtn = h('button', {type: 'button', class: 'danger', disabled: signed, onclick: async () => {
    if (!window.confirm('Sign this report? It cannot be edited afterwards.')) return;
    signBtn.disabled = true;
    clear(msg);
    try {
      await post('/v1/reports/' + enc(id) + '/sign');
      await showReview(id);
      return;
    } catch (e) { msg.append(errorBox(e)); }
    signBtn.disabled = false;
  }}, signed ? 'Signed' : 'Sign off');

  const hist = h('section', {}, h('h2', {}, 'History'));
  const conversation = h('details', {class: 'card'}, h('summary', {}, 'What the patient said (interview transcript)'));
  view('Review report', reportMeta(r), msg,
    r.patient_id !== undefined ? h('p', {}, h('a', {href: '#/patients/' + enc(r.patient_id)}, 'Patient record')) : null,
    conversation, form, renderNotes(r.notes), notesForm, renderCases(r.similar_cases),
    h('p', {class: 'row'}, signBtn, h('a', {class: 'button secondary', href: '/v1/reports/' + enc(id) + '/pdf', download: 'medify-report-' + id + '.pdf'}, 'Download PDF')),
    hist, h('p', {class: 'muted'}, r.generator ? 'Draft written by: ' + r.generator : ''));
  if (r.interview_id !== undefined && r.interview_id !== null) {
    get('/v1/interviews/' + enc(r.interview_id)).then((iv) => conversation.append(transcript(iv.messages)),
      (e) => conversation.append(errorBox(e)));
  }
  try {
    const items = list(await get('/v1/reports/' + enc(id) + '/history'), 'history');
    hist.append(items.length ? h('ol', {}, items.map((x) => h('li', {}, fmtDate(x.at) + ' · ' + x.action + (x.user_id != null ? ' · user ' + x.user_id : ' · medify'))))
      : h('p', {class: 'muted'}, 'No changes yet.'));
  } catch (e) { hist.append(errorBox(e)); }
}

// -------------------------------------------------------------------- admin ---
async function showAdmin() {
  const users = list(await get('/v1/users'), 'users');
  const clinicians = users.filter((u) => u.role === 'clinician');
  const msg = h('div', {'aria-live': 'polite'});
  const rows = users.map((u) => {
    let assign = '';
    if (u.role === 'patient') {
      const sel = h('select', {'aria-label': 'Clinician of ' + (u.name || u.email)},
        h('option', {value: ''}, 'Unassigned'), clinicians.map((c) => h('option', {value: c.id}, c.name || c.email)));
      sel.value = u.clinician_id == null ? '' : String(u.clinician_id);
      sel.addEventListener('change', async () => {
        clear(msg);
        try {
          const v = sel.value === '' ? null : (isNaN(Number(sel.value)) ? sel.value : Number(sel.value));
          await patch('/v1/users/' + enc(u.id), {clinician_id: v});
          msg.append(h('p', {}, 'Saved.'));
        } catch (e) { msg.append(errorBox(e)); }
      });
      assign = sel;
    }
    return h('tr', {}, h('td', {}, u.name || ''), h('td', {}, u.email), h('td', {}, u.role + (u.disabled ? ' (disabled)' : '')), h('td', {}, assign));
  });
  const email = field('Email', {type: 'email', name: 'email', required: true, autocomplete: 'off'});
  const name = field('Name', {name: 'name', required: true, autocomplete: 'off'});
  const pw = field('Password', {type: 'password', name: 'password', required: true, autocomplete: 'new-password'});
  const role = field('Role', {name: 'role', options: [['clinician', 'Clinician'], ['patient', 'Patient'], ['admin', 'Admin']]});
  const create = h('form', {class: 'card'}, h('h2', {}, 'Create a user'), name.wrap, email.wrap, pw.wrap, role.wrap, h('p', {}, h('button', {type: 'submit'}, 'Create')));
  create.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(msg);
    try {
      await post('/v1/users', {email: email.input.value.trim(), name: name.input.value.trim(), password: pw.input.value, role: role.input.value});
      await showAdmin();
    } catch (e) { msg.append(errorBox(e)); }
  });
  view('Users', msg, h('div', {class: 'table-wrap'}, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Email'), h('th', {}, 'Role'), h('th', {}, 'Clinician'))), h('tbody', {}, rows))), create);
}

// ------------------------------------------------------------------- router ---
const routes = [
  [/^#\/chat$/, startChat, 'patient'],
  [/^#\/chat\/([^/]+)$/, showChat, 'patient'],
  [/^#\/reports\/([^/]+)$/, showReport],
  [/^#\/queue(?:\/(pending|reviewed|signed))?$/, showQueue, 'clinician'],
  [/^#\/patients$/, showPatients, 'clinician'],
  [/^#\/patients\/([^/]+)$/, showPatient, 'clinician'],
  [/^#\/review\/([^/]+)$/, showReview, 'clinician'],
  [/^#\/admin$/, showAdmin, 'admin'],
];

async function route() {
  app.gen++;
  if (app.stop) { app.stop(); app.stop = null; }
  hideEmergency();
  const hash = location.hash || '#/';
  if (!app.user) {
    if (hash === '#/signup') return authForm('signup');
    if (hash !== '#/' && hash !== '#/login') app.after = hash; /* where to go once signed in */
    return authForm('login');
  }
  if (hash === '#/login' || hash === '#/signup' || hash === '#/') {
    const home = {patient: showHome, clinician: () => showQueue('pending'), admin: showAdmin}[app.user.role];
    return run(home || showHome, []);
  }
  for (const [re, fn, role] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    if (role && role !== app.user.role) return refused({status: 403});
    return run(fn, m.slice(1).map((x) => x && decodeURIComponent(x)));
  }
  view('Not found', h('p', {}, 'There is no page at this address. '), h('a', {href: '#/'}, 'Go to the start page'));
}

async function run(fn, args) {
  try {
    await fn(...args);
  } catch (e) {
    if (e === stale) return;
    if (e.status === 401) {
      app.user = null;
      setCsrf(null);
      renderNav();
      return authForm('login');
    }
    refused(e);
  }
}

async function boot() {
  try {
    signedIn(await get('/v1/auth/me'));
  } catch (e) {
    app.user = null;
    renderNav();
  }
  window.addEventListener('hashchange', route);
  route();
}

boot();
