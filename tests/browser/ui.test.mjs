// Browser tests of the medify web UI against a real `medify serve` (see run.sh):
//   static serving: content types, ETag, CSP and the other security headers
//   patient: signs up, completes an interview with quick replies, reads the report,
//            asks a question about it, downloads the PDF
//   emergency: "crushing chest pain and I can't breathe" shows the banner with the reply
//   clinician: opens the report from the queue, edits a section, adds a prescription,
//              signs; the API then says signed and further edits are refused
//   isolation: another patient opening the report's URL sees a refusal and no data
//   admin: creates a clinician and assigns a patient to them
//   keyboard: sign-in and a quick reply without a mouse, focus ring, AA contrast
//   phone: no horizontal scroll at 360 px on the sign-in, chat, home and report views
// Screenshots are written to $MEDIFY_ARTEFACTS.
import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {chromium} from 'playwright-core';

const BASE = process.env.MEDIFY_URL;
const ART = process.env.MEDIFY_ARTEFACTS || '.';
const accounts = Object.fromEntries(readFileSync(process.env.MEDIFY_ACCOUNTS, 'utf8').split('\n')
  .filter((l) => l && !l.startsWith('#')).map((l) => {
    const [role, email, password] = l.trim().split(/\s+/);
    return [role, {email, password}];
  }));
const run = Date.now().toString(36);
const shared = {};
let browser;

before(async () => {
  browser = await chromium.launch({executablePath: process.env.MEDIFY_CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']});
});
after(async () => { if (browser) await browser.close(); });

async function open(viewport) {
  const ctx = await browser.newContext({viewport: viewport || {width: 1100, height: 900}});
  const page = await ctx.newPage();
  page.setDefaultTimeout(30000);
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push('console: ' + m.text());
  });
  return {ctx, page, problems};
}

const shot = (page, name) => page.screenshot({path: join(ART, name + '.png'), fullPage: true});

async function signUp(page, name, email, password) {
  await page.goto(BASE + '/#/signup');
  await page.getByLabel('Your name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', {name: 'Create account'}).click();
  await page.getByRole('heading', {name: 'Your health questions'}).waitFor();
}

async function signIn(page, who) {
  await page.goto(BASE + '/#/login');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', {name: 'Sign in'}).click();
  await page.getByRole('button', {name: 'Sign out'}).waitFor();
}

async function startInterview(page) {
  await page.goto(BASE + '/#/chat');
  await page.getByRole('button', {name: 'Start'}).click();
  await page.getByLabel('Your message').waitFor();
}

// Sends one message and returns the API's reply object.
async function say(page, text) {
  await page.getByLabel('Your message').fill(text);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => /\/v1\/interviews\/[^/]+\/messages$/.test(r.url()) && r.request().method() === 'POST'),
    page.getByRole('button', {name: 'Send'}).click(),
  ]);
  assert.equal(resp.status(), 200, 'POST messages answered ' + resp.status());
  return resp.json();
}

// WCAG 2.1 contrast ratio of two computed CSS colours ("rgb(r, g, b)").
function contrast(fg, bg) {
  const lum = (css) => {
    const [r, g, b] = css.match(/[\d.]+/g).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}

async function noHorizontalScroll(page, what) {
  const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw, `${what}: the page is ${sw} px wide in a ${cw} px viewport`);
}

test('static files: types, caching and security headers', async () => {
  const index = await fetch(BASE + '/');
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type'), /^text\/html/);
  assert.equal(index.headers.get('x-content-type-options'), 'nosniff');
  const html = await index.text();
  assert.doesNotMatch(html, /https?:\/\//, 'index.html loads nothing from other origins');
  // The policy travels in the page (<meta http-equiv>) and, where the server adds
  // it, as a header too; both must be strict.
  const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)">/.exec(html);
  assert.ok(meta, 'index.html carries its Content-Security-Policy');
  for (const csp of [meta[1], index.headers.get('content-security-policy')]) {
    if (csp === null) continue;
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  }
  assert.match(html, /<meta name="referrer" content="no-referrer">/);
  for (const [name, type] of [['app.js', /^text\/javascript/], ['app.css', /^text\/css/], ['icon.svg', /^image\/svg\+xml/]]) {
    const r = await fetch(BASE + '/assets/' + name);
    assert.equal(r.status, 200, name);
    assert.match(r.headers.get('content-type'), type, name);
    const etag = r.headers.get('etag');
    if (etag !== null) assert.match(etag, /^"[^"]+"$/, name + ' has a strong ETag');
    const again = await fetch(BASE + '/assets/' + name, {headers: {'If-None-Match': etag || '*'}});
    assert.equal(again.status, 304, name + ' revalidates with 304');
  }
  const missing = await fetch(BASE + '/assets/nope.js');
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, 'not_found');
  let total = 0;
  for (const name of ['app.js', 'api.js', 'dom.js', 'app.css']) total += (await (await fetch(BASE + '/assets/' + name)).arrayBuffer()).byteLength;
  assert.ok(total < 80 * 1024, `first load is small (${total} bytes of scripts and styles)`);
});

test('a patient signs up, completes an interview and reads the report', async () => {
  const {ctx, page, problems} = await open();
  shared.patient = {email: `pat-${run}@example.test`, password: 'correct horse battery'};
  await signUp(page, 'Pat Example', shared.patient.email, shared.patient.password);
  const cookies = await ctx.cookies();
  const session = cookies.find((c) => c.name === 'medify_session');
  assert.ok(session, 'the session cookie is set');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  await assert.doesNotReject(page.getByText('is not a diagnosis').first().waitFor());

  await startInterview(page);
  let res = await say(page, 'I have had a sore throat, a runny nose and a mild cough for three days.');
  assert.equal(res.emergency.active, false, 'a cold is not an emergency');
  await page.locator('.msg.medify').last().waitFor();
  for (let turn = 0; turn < 15 && !res.should_stop && res.next_question; turn++) {
    const choices = page.locator('.choices button');
    await page.getByLabel('Your message').waitFor();
    if (await choices.count()) {
      const no = page.locator('.choices button', {hasText: /^no$/i});
      const pick = (await no.count()) ? no.first() : choices.first();
      const [resp] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/messages') && r.request().method() === 'POST'),
        pick.click(),
      ]);
      res = await resp.json();
    } else {
      res = await say(page, res.next_question.type === 'number' ? '34' : 'no');
    }
  }
  await shot(page, 'patient-chat');
  const [fin] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/finish')),
    page.getByRole('button', {name: 'Finish and get my report'}).click(),
  ]);
  assert.equal(fin.status(), 200);
  const finished = await fin.json();
  shared.reportId = String(finished.report.id);
  await page.waitForURL(new RegExp('#/reports/' + shared.reportId + '$'));
  await page.getByRole('heading', {name: 'Your report', exact: true, level: 1}).waitFor();
  await page.getByRole('link', {name: 'Download PDF'}).waitFor();
  const report = await (await ctx.request.get(BASE + '/v1/reports/' + shared.reportId)).json();
  assert.ok(report.sections.length > 0, 'the report has sections');
  for (const s of report.sections) await page.getByRole('heading', {name: s.title, exact: true}).first().waitFor();
  await page.getByText('not a diagnosis').first().waitFor();
  if (report.similar_cases.length) await page.locator('.pmid').first().waitFor();
  shared.sectionText = report.sections[0].text;
  const pdf = await ctx.request.get(BASE + '/v1/reports/' + shared.reportId + '/pdf');
  assert.equal(pdf.status(), 200);
  assert.match(pdf.headers()['content-type'], /application\/pdf/);
  await page.getByLabel('Your question about this report').fill('What does the triage level mean for me?');
  const [qa] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/questions')),
    page.getByRole('button', {name: 'Ask'}).click(),
  ]);
  assert.equal(qa.status(), 200, 'POST questions answered ' + qa.status());
  await page.getByText('You asked:').waitFor();
  await shot(page, 'patient-report');
  await page.goto(BASE + '/#/');
  await page.getByRole('link', {name: /^Report of /}).first().waitFor();
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('an emergency phrase shows the banner with the reply', async () => {
  const {ctx, page, problems} = await open();
  await signUp(page, `Em ${run}`, `em-${run}@example.test`, 'correct horse battery');
  await startInterview(page);
  const banner = page.locator('#emergency');
  assert.equal(await banner.isVisible(), false);
  const res = await say(page, "crushing chest pain and I can't breathe");
  assert.equal(res.emergency.active, true, 'the API flags the emergency');
  await banner.waitFor({state: 'visible', timeout: 1000});
  assert.equal(await banner.getAttribute('role'), 'alert');
  assert.match(await banner.innerText(), /emergency number/i);
  const box = await banner.boundingBox();
  assert.ok(box && box.y < 900 && box.height > 40, 'the banner is on screen');
  const [fg, bg] = await banner.evaluate((el) => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]);
  assert.ok(contrast(fg, bg) >= 7, `banner contrast ${contrast(fg, bg).toFixed(1)}:1 (AAA 7:1 wanted)`);
  await shot(page, 'emergency-banner');
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('a clinician reviews, edits and signs the report', async () => {
  assert.ok(shared.reportId, 'needs the report of the patient test');
  const {ctx, page, problems} = await open();
  page.on('dialog', (d) => d.accept());
  await signIn(page, accounts.clinician);
  await page.getByRole('heading', {name: 'Report queue'}).waitFor();
  await page.locator(`a[href="#/review/${shared.reportId}"]`).click();
  await page.getByRole('heading', {name: 'Review report'}).waitFor();
  const first = page.locator('form textarea').first();
  const edited = (await first.inputValue()) + '\nReviewed in clinic: symptoms consistent with a viral upper respiratory infection.';
  await first.fill(edited);
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/reports/' + shared.reportId) && r.request().method() === 'PATCH' && r.ok()),
    page.getByRole('button', {name: 'Save changes'}).click(),
  ]);
  await page.getByLabel('Kind').selectOption('prescription');
  await page.getByLabel('Text').fill('Paracetamol 500 mg up to four times a day for three days.');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/notes') && r.ok()),
    page.getByRole('button', {name: 'Add'}).click(),
  ]);
  await page.getByText('Paracetamol 500 mg').first().waitFor();
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/sign') && r.ok()),
    page.getByRole('button', {name: 'Sign off'}).click(),
  ]);
  await page.getByRole('button', {name: 'Signed'}).waitFor();
  await shot(page, 'clinician-review');
  const report = await (await ctx.request.get(BASE + '/v1/reports/' + shared.reportId)).json();
  assert.equal(report.status, 'signed');
  assert.ok(report.sections[0].text.includes('Reviewed in clinic'), 'the edit was saved');
  const history = await (await ctx.request.get(BASE + '/v1/reports/' + shared.reportId + '/history')).json();
  assert.ok((Array.isArray(history) ? history : history.history || history.items).length >= 2, 'edits are in the history');
  assert.deepEqual(problems, []);
  await ctx.close();
});

test("a patient cannot open another patient's report", async () => {
  assert.ok(shared.reportId, 'needs the report of the patient test');
  const {ctx, page} = await open();
  await signIn(page, accounts.patient);
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/reports/' + shared.reportId)),
    page.goto(BASE + '/#/reports/' + shared.reportId),
  ]);
  assert.ok(resp.status() === 403 || resp.status() === 404, 'the API refuses (' + resp.status() + ')');
  await page.locator('[data-refused]').waitFor();
  const text = await page.locator('main').innerText();
  assert.ok(!text.includes(shared.sectionText.slice(0, 40)), 'no report text is shown');
  assert.equal(await page.locator('.report-section, .pmid').count(), 0);
  await shot(page, 'refused');
  await ctx.close();
});

test('an admin creates a clinician and assigns a patient', async () => {
  const {ctx, page, problems} = await open();
  await signIn(page, accounts.admin);
  await page.getByRole('heading', {name: 'Users'}).waitFor();
  const email = `dr-${run}@example.test`;
  await page.getByLabel('Name').fill(`Dr ${run}`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('another long password');
  await page.getByLabel('Role').selectOption('clinician');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/users') && r.request().method() === 'POST' && r.status() === 201),
    page.getByRole('button', {name: 'Create'}).click(),
  ]);
  await page.getByRole('cell', {name: email}).waitFor();
  const select = page.getByLabel(`Clinician of Em ${run}`);
  await Promise.all([
    page.waitForResponse((r) => /\/v1\/users\/[^/]+$/.test(r.url()) && r.request().method() === 'PATCH' && r.ok()),
    select.selectOption({label: `Dr ${run}`}),
  ]);
  const res = await (await ctx.request.get(BASE + '/v1/users')).json();
  const users = Array.isArray(res) ? res : res.users || res.items;
  const dr = users.find((u) => u.email === email);
  const em = users.find((u) => u.name === `Em ${run}`);
  assert.equal(dr.role, 'clinician');
  assert.equal(String(em.clinician_id), String(dr.id));
  await shot(page, 'admin-users');
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('keyboard only: sign in, answer with a quick reply, visible focus, AA contrast', async () => {
  const {ctx, page, problems} = await open();
  await page.goto(BASE + '/#/login');
  await page.getByRole('button', {name: 'Sign in'}).waitFor();
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return el ? (el.labels && el.labels[0] ? el.labels[0].textContent : el.textContent || el.tagName) : '';
  });
  for (let i = 0; i < 12 && (await focused()) !== 'Email'; i++) await page.keyboard.press('Tab');
  assert.equal(await focused(), 'Email', 'Tab reaches the e-mail field');
  const ring = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(ring, 'none', 'the focused field shows a focus ring');
  const who = shared.patient || accounts.patient;
  await page.keyboard.type(who.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(who.password);
  await page.keyboard.press('Enter');
  await page.getByRole('button', {name: 'Sign out'}).waitFor();
  await page.goto(BASE + '/#/chat');
  await page.getByRole('button', {name: 'Start'}).focus();
  await page.keyboard.press('Enter');
  await page.getByLabel('Your message').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement.id), 'chat-input', 'the chat starts in the message box');
  await page.keyboard.type('I have a sore throat and a runny nose');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/messages')),
    page.keyboard.press('Enter'),
  ]);
  const quick = page.locator('.choices button');
  await quick.first().waitFor();
  const label = await page.evaluate(() => document.activeElement.textContent);
  assert.equal(label, await quick.first().textContent(), 'focus moves to the first quick reply');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/messages') && r.ok()),
    page.keyboard.press('Enter'),
  ]);
  await page.locator('.msg.patient').nth(1).waitFor();
  assert.equal(await page.locator('.log').getAttribute('aria-live'), 'polite', 'new messages are announced');
  for (const sel of ['body', '.msg.medify', '.msg.patient', 'button[type=submit]', '.notice', '.top a']) {
    const [fg, bg] = await page.locator(sel).first().evaluate((el) => {
      let b = el;
      while (b && getComputedStyle(b).backgroundColor === 'rgba(0, 0, 0, 0)') b = b.parentElement;
      return [getComputedStyle(el).color, b ? getComputedStyle(b).backgroundColor : 'rgb(255, 255, 255)'];
    });
    assert.ok(contrast(fg, bg) >= 4.5, `${sel}: contrast ${contrast(fg, bg).toFixed(2)}:1 is below AA`);
  }
  assert.deepEqual(problems, []);
  await ctx.close();
});

test('phone width: no horizontal scroll at 360 px', async () => {
  const {ctx, page} = await open({width: 360, height: 740});
  await page.goto(BASE + '/#/login');
  await page.getByRole('button', {name: 'Sign in'}).waitFor();
  await noHorizontalScroll(page, 'sign-in');
  await signIn(page, shared.patient || accounts.patient);
  await noHorizontalScroll(page, 'home');
  await startInterview(page);
  await say(page, 'I have a headache behind my eyes that gets worse in the evening, with no other symptoms at all.');
  await page.locator('.msg.medify').nth(1).waitFor();
  await noHorizontalScroll(page, 'chat');
  await shot(page, 'phone-chat');
  if (shared.reportId && shared.patient) {
    await page.goto(BASE + '/#/reports/' + shared.reportId);
    await page.getByRole('heading', {name: 'Your report', exact: true, level: 1}).waitFor();
    await noHorizontalScroll(page, 'report');
    await shot(page, 'phone-report');
  }
  await ctx.close();
});
